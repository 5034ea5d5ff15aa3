package report

// Coverage says, for one check, whether this run could judge it and from
// what evidence. A provider that sees the system under test only from
// outside (an external app with no rwxchaos journal) fills it in, so the
// report says which checks applied and why the others could not.
type Coverage struct {
	Check   string `json:"check"`
	Applied bool   `json:"applied"`
	// Evidence is what the check was judged from, or why it could not be.
	Evidence string `json:"evidence"`
	// Needs is what the application must expose for the check.
	Needs string `json:"needs,omitempty"`
}
