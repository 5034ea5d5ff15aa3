#!/usr/bin/env bash
# rwxchaos/toolbox: Debian's static busybox (sh, httpd, wget, nslookup, ...).
# Its wget segfaults with -T (busybox 1.35): bound it with `timeout N wget`.
# It has no flock applet.
. "$HERE/steps/lib.sh"
busybox_root "$WORK/root"
import_dir "$WORK/root" "$IMAGE" --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]'
docker run --rm --network none "$IMAGE" sh -c 'wget --help 2>&1 | head -1; httpd --help 2>&1 | head -1; nslookup --help 2>&1 | head -1' 
docker save -o "$OUT/image.tar" "$IMAGE"
