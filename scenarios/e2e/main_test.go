// Package e2e turns every library scenario into an e2e-framework feature.
// Filter with e2e-framework's flags, e.g.
//
//	go test ./scenarios/e2e -args --labels provider=local
//	go test ./scenarios/e2e -args --feature engine-killed-mid-run
package e2e

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/rwxchaos/rwxchaos/framework/provider/all"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/scenarios"
	"sigs.k8s.io/e2e-framework/pkg/env"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/features"
)

var testenv env.Environment

func TestMain(m *testing.M) {
	var err error
	testenv, err = env.NewFromFlags()
	if err != nil {
		panic(err)
	}
	os.Exit(testenv.Run(m))
}

func TestLibrary(t *testing.T) {
	// The providers are handed to the runner explicitly: the same set the
	// CLI uses, configured from the environment as the CLI is.
	providers := all.Default(all.Options{})
	var feats []features.Feature
	for _, name := range scenarios.Names() {
		s, err := scenarios.Load(name)
		var list scenario.ErrorList
		cannot := ""
		switch {
		case errors.As(err, &list) && list.Unsupported():
			// Well-formed, but no provider runs it yet: skip with the reason.
			cannot = list.Error()
		case err != nil:
			t.Fatalf("library scenario %s: %v", name, err)
		}
		b := features.New(s.Metadata.Name)
		for k, v := range scenarios.Labels(s) {
			b = b.WithLabel(k, v)
		}
		feats = append(feats, b.Assess("holds its expectations", func(ctx context.Context, t *testing.T, _ *envconf.Config) context.Context {
			if cannot != "" {
				t.Skip(cannot)
			}
			if why := scenarios.Gate(s); why != "" {
				t.Skip(why)
			}
			v := scenarios.Run(ctx, s, providers)
			if v.Skip != "" {
				t.Skip(v.Skip)
			}
			if v.Failure != "" {
				t.Fatal(v.Failure)
			}
			t.Logf("pass: %s", v.Outcome.Dir)
			return ctx
		}).Feature())
	}
	testenv.Test(t, feats...)
}
