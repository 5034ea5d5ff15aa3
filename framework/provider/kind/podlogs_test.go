package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Pod logs are copied one file per pod; a failure to read them is said in
// the progress log, never dropped silently.
func TestPodLogsCollectsAndSaysWhatItCouldNot(t *testing.T) {
	ns := "rwxchaos-x"
	pod := func(name string) runtime.Object {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	}
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }

	e := &Env{o: Options{Clock: time.Now, Logf: logf}, ns: ns, cs: fake.NewSimpleClientset(pod("webserver-a"), pod("engine-b"))}
	dir := filepath.Join(t.TempDir(), "logs")
	if n := e.podLogs(context.Background(), dir); n != 2 {
		t.Fatalf("collected %d logs, want 2 (logged %q)", n, logged)
	}
	for _, p := range []string{"webserver-a", "engine-b"} {
		if b, err := os.ReadFile(filepath.Join(dir, p+".log")); err != nil || len(b) == 0 {
			t.Errorf("%s.log: %q, %v", p, b, err)
		}
	}

	cs := fake.NewSimpleClientset()
	cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("apiserver gone")
	})
	logged = nil
	e = &Env{o: Options{Clock: time.Now, Logf: logf}, ns: ns, cs: cs}
	if n := e.podLogs(context.Background(), filepath.Join(t.TempDir(), "logs")); n != 0 {
		t.Fatalf("collected %d logs from an apiserver that failed the list", n)
	}
	if len(logged) != 1 || !strings.Contains(logged[0], "apiserver gone") {
		t.Fatalf("the failure was not said: %q", logged)
	}
}
