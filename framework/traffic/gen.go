package traffic

// defaultGenerator is used when Options.Generate is nil.
var defaultGenerator Generator
