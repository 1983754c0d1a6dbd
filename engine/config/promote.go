package config

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"go.yaml.in/yaml/v3"
)

// SettingsKeys are the top-level keys of a configuration that are its
// settings: how customers are segmented, valued and given targets, and
// which rows are accepted. The others (inputs, output, keep_runs,
// metrics_file, as_of, today, threads, memory_limit, csv_formulas) say where
// and how a run runs, and belong to the configuration that runs it.
var SettingsKeys = []string{"seed", "segmentation", "targets", "rejects", "value", "economics"}

// Promote returns the configuration file nightly with the settings
// (SettingsKeys) of the configuration file variant, read from the
// directory variantDir: each settings key the variant gives replaces the
// nightly's, and one it leaves out is removed (the variant ran with its
// default). The nightly's other keys, and its comments outside the
// replaced keys, stay. A relative segmentation.model of the variant is
// made absolute, as it was read from variantDir. keepModel keeps the
// nightly's own segmentation.model (the file the variant's trained model
// is copied into); choose_k, which a model excludes, is then left out.
func Promote(nightly, variant []byte, variantDir string, keepModel bool) ([]byte, error) {
	ndoc, err := mappingDoc(nightly)
	if err != nil {
		return nil, fmt.Errorf("the nightly configuration: %w", err)
	}
	vdoc, err := mappingDoc(variant)
	if err != nil {
		return nil, fmt.Errorf("the variant configuration: %w", err)
	}
	nmap, vmap := ndoc.Content[0], vdoc.Content[0]
	var model *yaml.Node
	if seg := lookup(nmap, "segmentation"); seg != nil {
		model = lookup(seg, "model")
	}
	for _, key := range SettingsKeys {
		v := lookup(vmap, key)
		if v == nil {
			remove(nmap, key)
			continue
		}
		if key == "segmentation" {
			if m := lookup(v, "model"); m != nil && m.Kind == yaml.ScalarNode && m.Value != "" && !filepath.IsAbs(m.Value) {
				m.Value = filepath.Join(variantDir, m.Value)
			}
		}
		set(nmap, key, v)
	}
	if keepModel && model != nil {
		seg := lookup(nmap, "segmentation")
		if seg == nil {
			seg = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			set(nmap, "segmentation", seg)
		}
		remove(seg, "choose_k")
		set(seg, "model", model)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(ndoc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// mappingDoc parses a YAML document whose top is a mapping; an empty one
// is an empty mapping.
func mappingDoc(b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("expected a mapping of keys at the top")
	}
	return &doc, nil
}

// lookup is the value of key in the mapping m; nil when it has none.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// set gives key the value v in the mapping m, in its place when m has the
// key (keeping the key's comments), at the end otherwise.
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// remove removes key from the mapping m.
func remove(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = slices.Delete(m.Content, i, i+2)
			return
		}
	}
}
