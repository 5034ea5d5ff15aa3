// Command crdpatch reads Chaos Mesh's manifests/crd.yaml on stdin and writes
// it with NetworkChaosSpec.partitionBehavior added to every NetworkChaos spec
// schema (NetworkChaos, and the copies embedded in Schedule, Workflow and
// WorkflowNode). The controller and rwxchaos are built against the proxy's
// chaos-mesh/api (from master), which has that field; the v2.8.3 CRDs do
// not, and the API server would prune it, after which the admission webhook
// refuses every status update ("Cannot update chaos spec").
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

var field = map[string]any{
	"description": "PartitionBehavior defines how matched packets are handled for the partition action (added by rwxchaos hack/chaosmesh to match the api module).",
	"type":        "string",
	"enum":        []any{"drop", "reject"},
	"default":     "drop",
}

// patch adds the field to every object schema that looks like a
// NetworkChaosSpec and returns how many it changed.
func patch(v any) int {
	n := 0
	switch t := v.(type) {
	case map[string]any:
		if props, ok := t["properties"].(map[string]any); ok {
			_, ext := props["externalTargets"]
			_, dir := props["direction"]
			_, tgt := props["target"]
			_, has := props["partitionBehavior"]
			if ext && dir && tgt && !has {
				props["partitionBehavior"] = field
				n++
			}
		}
		for _, c := range t {
			n += patch(c)
		}
	case []any:
		for _, c := range t {
			n += patch(c)
		}
	}
	return n
}

func main() {
	raw, err := io.ReadAll(bufio.NewReader(os.Stdin))
	if err != nil {
		fmt.Fprintln(os.Stderr, "crdpatch:", err)
		os.Exit(1)
	}
	total := 0
	var out []string
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		if strings.TrimSpace(doc) == "" || strings.TrimSpace(doc) == "---" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			fmt.Fprintln(os.Stderr, "crdpatch: parse:", err)
			os.Exit(1)
		}
		total += patch(m)
		b, err := yaml.Marshal(m)
		if err != nil {
			fmt.Fprintln(os.Stderr, "crdpatch: render:", err)
			os.Exit(1)
		}
		out = append(out, string(b))
	}
	if total == 0 {
		fmt.Fprintln(os.Stderr, "crdpatch: no NetworkChaos spec schema found: is this Chaos Mesh's crd.yaml?")
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "crdpatch: added partitionBehavior to %d schemas\n", total)
	fmt.Print(strings.Join(out, "---\n"))
}
