package kind

import "context"

// PipelineImage turns the static edi-pipeline binary into a one-file docker
// image tagged by the binary's hash and returns its reference (for other
// providers' lab tests that load it into a cluster themselves).
func PipelineImage(ctx context.Context, binary string) (string, error) {
	return pipelineImage(ctx, binary)
}
