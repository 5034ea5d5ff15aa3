package traffic

import (
	"fmt"
	"math/rand/v2"

	"github.com/rwxchaos/rwxchaos/fixtures/pipeline/edi"
)

// defaultGenerator is used when Options.Generate is nil.
var defaultGenerator Generator = EDIGenerator

// EDIGenerator generates a valid X12 or EDIFACT interchange with the edi
// fixture package and parses it back for its key and message count, so the
// key journaled is the one the pipeline derives from the bytes.
func EDIGenerator(rng *rand.Rand, format string, control, minSize, maxSize int) (Payload, error) {
	if format != edi.X12 && format != edi.EDIFACT {
		return Payload{}, fmt.Errorf("unknown format %q: use %q or %q", format, edi.X12, edi.EDIFACT)
	}
	body := edi.Generate(rng, format, control, minSize, maxSize)
	ic, err := edi.Parse(body)
	if err != nil {
		return Payload{}, fmt.Errorf("generated %s interchange %d does not parse (a bug in fixtures/pipeline/edi): %w", format, control, err)
	}
	return Payload{Body: body, Key: ic.Key(), Msgs: ic.Messages}, nil
}
