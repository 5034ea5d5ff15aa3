// Package ginkgo runs the scenario library as a ginkgo suite, through the
// same runner as the CLI and the e2e-framework suite. Scenario labels become
// ginkgo labels ("provider:local", "tier:smoke"):
//
//	go test ./scenarios/ginkgo -args --ginkgo.label-filter='provider:local'
//
// Without a filter only `tier: smoke` scenarios run here (the e2e-framework
// suite runs them all); RWXCHAOS_GINKGO_ALL=1 runs every scenario.
package ginkgo

import (
	"context"
	"errors"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rwxchaos/rwxchaos/framework/provider/all"
	"github.com/rwxchaos/rwxchaos/framework/scenario"
	"github.com/rwxchaos/rwxchaos/scenarios"
)

func TestScenarios(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "rwxchaos scenario library")
}

// One suite for the whole ginkgo run: kind scenarios share one cluster, and
// the index page over every report is written at the end.
var suite *scenarios.Suite

var _ = BeforeSuite(func() { suite = scenarios.NewSuite("rwxchaos scenario library (ginkgo)", "index-ginkgo", GinkgoWriter) })

var _ = AfterSuite(func(ctx context.Context) {
	index, err := suite.Close(ctx)
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("suite index: %s\n", index)
}, NodeTimeout(5*60*1e9))

var _ = Describe("scenario library", func() {
	// Handed to the runner explicitly, as the CLI does.
	providers := all.Default(all.Options{})
	for _, name := range scenarios.Names() {
		s, err := scenarios.Load(name)
		var list scenario.ErrorList
		cannot := ""
		switch {
		case errors.As(err, &list) && list.Unsupported():
			cannot = list.Error() // well-formed; no provider runs it yet
		case err != nil:
			It("loads "+name, func() { Expect(err).NotTo(HaveOccurred()) })
			continue
		}
		var labels []string
		for k, v := range scenarios.Labels(s) {
			labels = append(labels, k+":"+v)
		}
		It(s.Metadata.Name, Label(labels...), func(ctx context.Context) {
			filtered := GinkgoLabelFilter() != "" || os.Getenv("RWXCHAOS_GINKGO_ALL") == "1"
			if !filtered && s.Metadata.Labels["tier"] != "smoke" {
				Skip("not a smoke scenario: pass --ginkgo.label-filter or RWXCHAOS_GINKGO_ALL=1")
			}
			if cannot != "" {
				suite.Skip(s, cannot)
				Skip(cannot)
			}
			if why := scenarios.Gate(s); why != "" {
				suite.Skip(s, why)
				Skip(why)
			}
			v := suite.Run(ctx, s, providers)
			if v.Skip != "" {
				Skip(v.Skip)
			}
			Expect(v.Failure).To(BeEmpty(), "report: %s", v.Outcome.Dir)
		}, NodeTimeout(10*60*1e9))
	}
})
