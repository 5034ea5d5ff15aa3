package report

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The screenshot test renders report.html of the fixture run in headless
// Chromium (Debian package "chromium") and checks the pixels: the page is not
// blank, the verdict banner is drawn, and the timeline lanes, fault window
// and lock bars are on screen. Without Chromium it skips, unless CI=true,
// where it fails. RWXCHAOS_CHROMIUM overrides the binary;
// RWXCHAOS_SCREENSHOT_DIR keeps the PNGs.

func chromium(t *testing.T) string {
	t.Helper()
	cands := []string{os.Getenv("RWXCHAOS_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (Debian: apt-get install -y chromium); CI=true makes the screenshot test mandatory")
	}
	t.Skip("chromium is not installed (Debian: apt-get install -y chromium); skipping the screenshot test (it is mandatory with CI=true)")
	return ""
}

func screenshot(t *testing.T, bin, page string, w, h int, name string) image.Image {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--disable-dev-shm-usage", // containers often have a tiny /dev/shm
		"--user-data-dir="+t.TempDir(), fmt.Sprintf("--window-size=%d,%d", w, h), "--screenshot="+out, "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	logs, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, logs)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v\n%s", err, logs)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if keep := os.Getenv("RWXCHAOS_SCREENSHOT_DIR"); keep != "" {
		if err := os.MkdirAll(keep, 0o755); err == nil {
			if b, err := os.ReadFile(out); err == nil {
				os.WriteFile(filepath.Join(keep, name), b, 0o644)
				t.Logf("screenshot kept: %s", filepath.Join(keep, name))
			}
		}
	}
	return img
}

type rgb struct{ r, g, b int }

func at8(img image.Image, x, y int) rgb {
	r, g, b, _ := img.At(x, y).RGBA()
	return rgb{int(r >> 8), int(g >> 8), int(b >> 8)}
}

func (c rgb) near(o rgb, tol int) bool {
	d := func(a, b int) bool { return a-b <= tol && b-a <= tol }
	return d(c.r, o.r) && d(c.g, o.g) && d(c.b, o.b)
}

// Colours of report.html's stylesheet.
var (
	colFail      = rgb{0xcf, 0x22, 0x2e}
	colWebserver = rgb{0x4c, 0x78, 0xa8}
	colEngine    = rgb{0xf5, 0x85, 0x18}
	colJobqueue  = rgb{0x54, 0xa2, 0x4b}
	colLock      = rgb{0x6f, 0x42, 0xc1}
)

// bands counts horizontal bands of rows that hold a run of at least minRun
// pixels of colour c: one band per drawn bar row.
func bands(img image.Image, b image.Rectangle, c rgb, minRun int) int {
	n, prev := 0, false
	for y := b.Min.Y; y < b.Max.Y; y++ {
		run, best := 0, 0
		for x := b.Min.X; x < b.Max.X; x++ {
			if at8(img, x, y).near(c, 10) {
				run++
				best = max(best, run)
			} else {
				run = 0
			}
		}
		has := best >= minRun
		if has && !prev {
			n++
		}
		prev = has
	}
	return n
}

func count(img image.Image, r image.Rectangle, match func(rgb) bool) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if match(at8(img, x, y)) {
				n++
			}
		}
	}
	return n
}

func TestScreenshot(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("screenshot test skipped in -short mode")
	}
	bin := chromium(t)
	r, h := buildFixture()
	dir := t.TempDir()
	if err := Write(dir, r, h); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, HTMLFile)

	// The first screen: verdict banner, facts, checks.
	top := screenshot(t, bin, page, 1400, 1000, "report-top.png")
	b := top.Bounds()
	if b.Dx() != 1400 || b.Dy() != 1000 {
		t.Fatalf("screenshot is %v", b)
	}
	colours := map[rgb]bool{}
	nonWhite := 0
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			c := at8(top, x, y)
			colours[c] = true
			if c.r < 245 || c.g < 245 || c.b < 245 {
				nonWhite++
			}
		}
	}
	frac := float64(nonWhite) / float64(b.Dx()*b.Dy())
	t.Logf("top screen: %d colours, %.1f%% non-white", len(colours), 100*frac)
	if len(colours) < 100 || frac < 0.08 {
		t.Errorf("the page looks blank: %d colours, %.1f%% non-white", len(colours), 100*frac)
	}
	banner := count(top, image.Rect(0, 0, 1400, 80), func(c rgb) bool { return c.near(colFail, 12) })
	if banner < 1400*80/2 {
		t.Errorf("no red FAIL banner across the top: %d red pixels", banner)
	}

	// A tall window holds the timeline and the latency chart.
	full := screenshot(t, bin, page, 1400, 2600, "report-full.png")
	// Below the banner (its red would pass for a fault bar).
	body := full.Bounds()
	body.Min.Y = 150
	t.Logf("bands: webserver %d, jobqueue %d, engine %d, lock %d, fault %d", bands(full, body, colWebserver, 300), bands(full, body, colJobqueue, 300),
		bands(full, body, colEngine, 40), bands(full, body, colLock, 40), bands(full, body, colFail, 150))
	if n := bands(full, body, colWebserver, 300); n < 3 {
		t.Errorf("webserver lanes: %d bars of 300+ px, want at least 3 (pods on three nodes)", n)
	}
	if n := bands(full, body, colJobqueue, 300); n < 1 {
		t.Errorf("jobqueue lane not drawn")
	}
	if n := bands(full, body, colEngine, 40); n < 2 {
		t.Errorf("engine bars: %d, want at least 2 (two engine pods)", n)
	}
	if n := bands(full, body, colLock, 40); n < 1 {
		t.Errorf("lock epoch bars not drawn")
	}
	if n := bands(full, body, colFail, 150); n < 1 {
		t.Errorf("fault bar not drawn")
	}
	shade := count(full, body, func(c rgb) bool {
		return c.r >= 235 && c.r > c.g+8 && c.r > c.b+6 && c.g > 215
	})
	t.Logf("fault shading: %d pixels", shade)
	if shade < 20000 {
		t.Errorf("fault window shading: %d pink pixels", shade)
	}
}
