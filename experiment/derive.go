package experiment

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/fedgan/fedgan/internal/atomicfile"
)

// DeriveConfig writes the topology file src to dst with the dotted keys
// of set (e.g. "training.mode") replaced, and with every relative file
// path made absolute against src's folder, so that dst works from
// anywhere. The result is not validated; config.Load it.
func DeriveConfig(src, dst string, set map[string]string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("%s: not a YAML mapping", src)
	}
	root := doc.Content[0]
	for key, val := range set {
		if err := setPath(root, strings.Split(key, "."), val); err != nil {
			return fmt.Errorf("%s: %s: %w", src, key, err)
		}
	}
	abs, err := filepath.Abs(filepath.Dir(src))
	if err != nil {
		return err
	}
	absolutize(root, "", abs)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# Derived from %s by fedgan experiment", src)
	if len(set) > 0 {
		var keys []string
		for k, v := range set {
			keys = append(keys, k+"="+v)
		}
		slices.Sort(keys)
		header += " with " + strings.Join(keys, ", ")
	}
	return atomicfile.Write(dst, append([]byte(header+"\n"), out...), 0o644)
}

func setPath(m *yaml.Node, path []string, val string) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != path[0] {
			continue
		}
		v := m.Content[i+1]
		if len(path) == 1 {
			*v = yaml.Node{Kind: yaml.ScalarNode, Value: val}
			return nil
		}
		if v.Kind != yaml.MappingNode {
			return fmt.Errorf("%s is not a mapping", path[0])
		}
		return setPath(v, path[1:], val)
	}
	if len(path) == 1 {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: path[0]}, &yaml.Node{Kind: yaml.ScalarNode, Value: val})
		return nil
	}
	child := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: path[0]}, child)
	return setPath(child, path[1:], val)
}

// pathKeys are the topology keys that hold file paths ("output" only
// under cloud: model.output is an activation).
var pathKeys = map[string]bool{"path": true, "labels": true, "state": true, "credentials": true,
	"password_file": true, "queue_dir": true, "cert": true, "key": true, "ca": true}

// absolutize makes the relative paths under n absolute; parent is the key
// n is the value of.
func absolutize(n *yaml.Node, parent, dir string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			isPath := pathKeys[k.Value] || k.Value == "output" && parent == "cloud"
			if isPath && v.Kind == yaml.ScalarNode && v.Value != "" && !filepath.IsAbs(v.Value) {
				v.Value = filepath.Join(dir, v.Value)
				v.Style = 0
				continue
			}
			absolutize(v, k.Value, dir)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			absolutize(c, parent, dir)
		}
	}
}
