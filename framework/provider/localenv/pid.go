package localenv

import (
	"strconv"
	"strings"
)

// pidOf reads the pid out of a proc id "role-host-pid-nanos".
func pidOf(proc string) int {
	parts := strings.Split(proc, "-")
	if len(parts) < 4 {
		return 0
	}
	n, _ := strconv.Atoi(parts[len(parts)-2])
	return n
}
