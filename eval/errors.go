package eval

import "errors"

// Sentinel errors; test with errors.Is.
var (
	// ErrData: the data given cannot be evaluated (no labels, wrong width,
	// no rows, NaN).
	ErrData = errors.New("eval: unusable data")
	// ErrSettings: bad classifier settings or a network that is not a
	// classifier.
	ErrSettings = errors.New("eval: bad classifier settings")
	// ErrNoClassifier: the cache holds no classifier for this training data
	// and these settings (see *MissingError).
	ErrNoClassifier = errors.New("eval: no cached evaluation classifier")
	// ErrCache: a cached classifier is unreadable or does not match its
	// description.
	ErrCache = errors.New("eval: bad classifier cache entry")
)
