package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// keyProblem is a mistake in the file's shape, found before the decoder
// runs: an unknown key or a value of the wrong type, with its line and
// its key path (training.batch_size, communities[0].edge.listen).
type keyProblem struct {
	line int
	path string
	msg  string
	// implies is the key path whose value stays zero because of this
	// mistake (the key it misspelt, or the key itself): the validator's
	// "must be > 0, got 0" for it is a follow-on and is not reported.
	implies string
}

func (p keyProblem) String() string { return fmt.Sprintf("line %d: %s: %s", p.line, p.path, p.msg) }

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// checkKeys walks the YAML document against the type of t, the way the
// decoder will read it, and reports every unknown key (with the nearest
// known one) and every value the decoder cannot read (naming the key).
func checkKeys(doc *yaml.Node, t reflect.Type) []keyProblem {
	var ps []keyProblem
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	walkKeys(doc, t, "", &ps)
	return ps
}

func walkKeys(n *yaml.Node, t reflect.Type, path string, ps *[]keyProblem) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // an empty value leaves the zero value
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			*ps = append(*ps, keyProblem{line: n.Line, path: path, msg: unmarshalMessage(err), implies: path})
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	wrong := func() {
		*ps = append(*ps, keyProblem{line: n.Line, path: path, msg: describeValue(n) + " is not " + kindWord(t), implies: path})
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			wrong()
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				continue // a merge key: its mapping is checked where it is defined
			}
			f, ok := fields[k.Value]
			if !ok {
				*ps = append(*ps, unknownKey(k, path, fields))
				continue
			}
			walkKeys(v, f, join(path, k.Value), ps)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			wrong()
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), ps)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			wrong()
			return
		}
		for i, e := range n.Content {
			walkKeys(e, t.Elem(), path+"["+elemName(e, i)+"]", ps)
		}
	case reflect.Interface:
		// Anything goes.
	default:
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			wrong()
		}
	}
}

// yamlFields maps a struct's YAML keys to their types, inline structs
// flattened.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if slices.Contains(strings.Split(opts, ","), "inline") {
			for k, v := range yamlFields(f.Type) {
				m[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	return m
}

func unknownKey(k *yaml.Node, path string, fields map[string]reflect.Type) keyProblem {
	p := keyProblem{line: k.Line, path: join(path, k.Value)}
	known := slices.Sorted(maps.Keys(fields))
	if near := nearest(k.Value, known); near != "" {
		p.msg = fmt.Sprintf("unknown key; did you mean %s?", near)
		p.implies = join(path, near)
		return p
	}
	where := path
	if where == "" {
		where = "the top level"
	}
	p.msg = fmt.Sprintf("unknown key; the keys of %s are %s", where, strings.Join(known, ", "))
	return p
}

// nearest is the known key closest to k in edit distance, when it is
// close enough to be a typo (at most a third of its length, at least 1;
// or one is the other's prefix, as global_round for global_rounds).
func nearest(k string, known []string) string {
	best, bestD := "", len(k)+1
	for _, c := range known {
		d := editDistance(k, c)
		if strings.HasPrefix(c, k) || strings.HasPrefix(k, c) {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= max(1, len(k)/3) {
		return best
	}
	return ""
}

// editDistance is the optimal-string-alignment distance of a and b
// (bytes): insertions, deletions, substitutions and swaps of two
// neighbours each cost 1.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// elemName names a list element by its id when it has one, as the
// validator does (communities[a]), else by index.
func elemName(e *yaml.Node, i int) string {
	if e.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(e.Content); j += 2 {
			if e.Content[j].Value == "id" && e.Content[j+1].Kind == yaml.ScalarNode {
				return e.Content[j+1].Value
			}
		}
	}
	return strconv.Itoa(i)
}

func describeValue(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "`" + n.Value + "`"
}

func kindWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "a mapping"
}

// unmarshalMessage is a custom decoder's complaint without its "line N:"
// prefix (the problem adds line and key).
func unmarshalMessage(err error) string {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
		msg = rest
	}
	return msg
}
