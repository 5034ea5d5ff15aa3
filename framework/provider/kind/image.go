package kind

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/rwxchaos/rwxchaos/framework/binimage"
	"github.com/rwxchaos/rwxchaos/framework/kindcluster"
	"github.com/rwxchaos/rwxchaos/framework/selfexec"
)

// EnvAppImage names a published rwxchaos image (rwxchaos on its PATH, as
// the release's OCI image) for the app instead of the one assembled from
// the running binary; the nodes pull it (`rwxchaos run --app-image`).
const EnvAppImage = "RWXCHAOS_APP_IMAGE"

// appImage is how the pipeline's pods get the app.
type appImage struct {
	ref     string
	command []string // the pipeline's command in the image
	pull    corev1.PullPolicy
	build   *binimage.Image // nil for a published image
	took    time.Duration   // to assemble build
}

// chooseAppImage picks the published image ref (Options.AppImage), or
// when ref is "" assembles one in process from the program that acts as
// the pipeline (this rwxchaos binary).
func chooseAppImage(ref string) (*appImage, error) {
	if ref != "" {
		return &appImage{ref: ref, command: selfexec.Pipeline.ImageCommand(), pull: corev1.PullIfNotPresent}, nil
	}
	argv, err := selfexec.Pipeline.Command()
	if err != nil {
		return nil, fmt.Errorf("the app image: %w", err)
	}
	o := binimage.Options{}
	if len(argv) > 1 {
		o.Name = "rwxchaos" // a multi-role binary (a test binary too) is rwxchaos in the image
	}
	start := time.Now()
	img, err := binimage.Build(argv, o)
	if err != nil {
		return nil, fmt.Errorf("the app image: %w", err)
	}
	return &appImage{ref: img.Ref, command: img.Command, pull: corev1.PullNever, build: img, took: time.Since(start)}, nil
}

// planAppImage is what chooseAppImage would pick, without assembling
// anything (dry run): the image reference (a placeholder tag for one it
// would assemble), the pipeline's command in it, and a line saying so.
func planAppImage(ref string) (image string, command []string, pull corev1.PullPolicy, desc string) {
	if ref != "" {
		return ref, selfexec.Pipeline.ImageCommand(), corev1.PullIfNotPresent,
			fmt.Sprintf("app image %s (published; the nodes pull it)", ref)
	}
	argv, err := selfexec.Pipeline.Command()
	if err != nil {
		return binimage.DefaultRepo + ":<digest>", selfexec.Pipeline.ImageCommand(), corev1.PullNever,
			fmt.Sprintf("app image: cannot be assembled here: %v", err)
	}
	name := filepath.Base(argv[0])
	if len(argv) > 1 {
		name = "rwxchaos"
	}
	command = append([]string{path.Join(binimage.BinDir, name)}, argv[1:]...)
	return binimage.DefaultRepo + ":<digest>", command, corev1.PullNever,
		fmt.Sprintf("app image: would assemble one from this binary (%s, no docker build) and load it into every node that lacks it", argv[0])
}

// load writes the assembled image as an archive and imports it into every
// node (a node that has it already is skipped); a published one is pulled
// by the nodes themselves.
func (a *appImage) load(ctx context.Context, c *kindcluster.Cluster, logf func(string, ...any)) error {
	if a.build == nil {
		logf("app image %s (published; the nodes pull it)", a.ref)
		return nil
	}
	start := time.Now()
	dir, err := os.MkdirTemp("", "rwxchaos-app-image-")
	if err != nil {
		return fmt.Errorf("the app image: %w", err)
	}
	defer os.RemoveAll(dir)
	archive := filepath.Join(dir, "image.tar")
	if err := a.build.WriteArchiveFile(archive); err != nil {
		return err
	}
	written := time.Since(start)
	if err := c.LoadArchive(ctx, archive, a.ref, a.build.ID); err != nil {
		return err
	}
	logf("app image %s (%d MB, %d files) assembled in %s, archive written in %s, loaded into the nodes in %s",
		a.ref, a.build.Size>>20, len(a.build.Files), a.took.Round(time.Millisecond), written.Round(time.Millisecond), (time.Since(start) - written).Round(time.Millisecond))
	return nil
}

// PipelineImage assembles the app image from the program that acts as the
// pipeline (this binary) and loads it into c; it returns the image
// reference and the pipeline's command in it (for other providers' lab
// tests that bring their own cluster).
func PipelineImage(ctx context.Context, c *kindcluster.Cluster) (ref string, command []string, err error) {
	a, err := chooseAppImage(os.Getenv(EnvAppImage))
	if err != nil {
		return "", nil, err
	}
	if err := a.load(ctx, c, func(string, ...any) {}); err != nil {
		return "", nil, err
	}
	return a.ref, a.command, nil
}
