package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/nn"
)

// ClassifierInfo describes a cached classifier; it is stored as JSON
// beside the network.
type ClassifierInfo struct {
	// Key is the classifier's ClassifierKey: the SHA-256 of its training
	// data and settings.
	Key      string             `json:"key"`
	Settings ClassifierSettings `json:"settings"`
	Dim      int                `json:"dim"`
	Classes  int                `json:"classes"`
	// Rows is the number of training rows hashed into Key.
	Rows int `json:"rows"`
	// Sources names the datasets it was trained on, for people.
	Sources []string `json:"sources,omitempty"`
	// Accuracy is the test accuracy per source, as measured at training.
	Accuracy map[string]float64 `json:"accuracy,omitempty"`
}

// Cache is a folder of evaluation classifiers, each stored under its key
// as classifier-<first 16 hex digits of the key>.nnw (the network, see
// nn.Save) and .json (its ClassifierInfo). A classifier is found by the
// key of the training data and settings at hand, so a classifier of other
// data or settings (a stale one) is never used: Load reports it missing.
type Cache struct {
	Dir string
}

// DefaultCacheDir is $FEDGAN_CACHE if set, else fedgan/eval under the
// user's cache folder (~/.cache/fedgan/eval on Linux).
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("FEDGAN_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("eval: no cache folder (set FEDGAN_CACHE): %w", err)
	}
	return filepath.Join(d, "fedgan", "eval"), nil
}

// MissingError is returned by Cache.Load when no classifier matches the
// key. It wraps ErrNoClassifier and lists the classifiers the folder does
// hold, which were trained on other data or with other settings.
type MissingError struct {
	Dir, Key string
	Others   []ClassifierInfo
}

func (e *MissingError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "eval: no cached evaluation classifier for this training data and these settings (key %.16s…) in %s", e.Key, e.Dir)
	if len(e.Others) > 0 {
		fmt.Fprintf(&b, "; it holds %d for other data or settings, not used:", len(e.Others))
		for _, o := range e.Others {
			fmt.Fprintf(&b, " %.16s… (%s, %d rows)", o.Key, strings.Join(o.Sources, " + "), o.Rows)
		}
	}
	return b.String()
}

func (e *MissingError) Unwrap() error { return ErrNoClassifier }

func (c Cache) base(key string) string {
	if len(key) > 16 {
		key = key[:16]
	}
	return filepath.Join(c.Dir, "classifier-"+key)
}

// Load returns the classifier stored under key. It returns a
// *MissingError if there is none, and an error wrapping ErrCache if the
// entry is unreadable, corrupted, or describes another key or shape.
func (c Cache) Load(key string) (*Classifier, *ClassifierInfo, error) {
	base := c.base(key)
	js, err := os.ReadFile(base + ".json")
	if errors.Is(err, fs.ErrNotExist) {
		others, _ := c.List()
		return nil, nil, &MissingError{Dir: c.Dir, Key: key, Others: others}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrCache, err)
	}
	var info ClassifierInfo
	if err := json.Unmarshal(js, &info); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrCache, base+".json", err)
	}
	if info.Key != key {
		others, _ := c.List()
		return nil, nil, &MissingError{Dir: c.Dir, Key: key, Others: others}
	}
	b, err := os.ReadFile(base + ".nnw")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrCache, err)
	}
	net, err := nn.Load(bytes.NewReader(b))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrCache, base+".nnw", err)
	}
	if net.InDim() != info.Dim || net.OutDim() != info.Classes {
		return nil, nil, fmt.Errorf("%w: %s maps %d values to %d classes, its description says %d to %d",
			ErrCache, base+".nnw", net.InDim(), net.OutDim(), info.Dim, info.Classes)
	}
	cls, err := NewClassifier(net, key, info.Settings)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrCache, base+".nnw", err)
	}
	return cls, &info, nil
}

// Save stores cls with its description (whose Key, Settings, Dim and
// Classes are taken from cls), each file replaced atomically.
func (c Cache) Save(cls *Classifier, info ClassifierInfo) error {
	info.Key, info.Settings, info.Dim, info.Classes = cls.Key, cls.Settings, cls.Dim(), cls.Classes
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := nn.Save(&buf, cls.Net); err != nil {
		return err
	}
	base := c.base(cls.Key)
	if err := atomicfile.Write(base+".nnw", buf.Bytes(), 0o644); err != nil {
		return err
	}
	js, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(base+".json", append(js, '\n'), 0o644)
}

// List returns the descriptions of every classifier in the folder, sorted
// by key; unreadable descriptions are skipped.
func (c Cache) List() ([]ClassifierInfo, error) {
	names, err := filepath.Glob(filepath.Join(c.Dir, "classifier-*.json"))
	if err != nil {
		return nil, err
	}
	var out []ClassifierInfo
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		var info ClassifierInfo
		if json.Unmarshal(b, &info) == nil && info.Key != "" {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
