package inventory

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"micromirror/internal/yamlconf"
)

// Defaults of fleet.yaml's optional keys.
const (
	DefaultHeadroomPercent = 10
	DefaultMinNodes        = 2
)

func defaults() Fleet {
	return Fleet{
		HeadroomPercent: DefaultHeadroomPercent,
		MinNodes:        DefaultMinNodes,
		Plan: Plan{
			MinGain:            yamlconf.Bytes(50e9),
			UtilisationPercent: 80,
			Overlap:            0.2,
			RadiusKM:           500,
			Days:               28,
			MaxProjects:        6,
		},
	}
}

// Load reads and validates an inventory file.
func Load(path string) (*Fleet, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return Parse(path, src)
}

// Parse decodes and validates inventory source; name is used in messages.
// Every bad value is reported, each with its file, line and key.
func Parse(name string, src []byte) (*Fleet, error) {
	if strings.TrimSpace(string(src)) == "" {
		return nil, fmt.Errorf("%s: inventory is empty", name)
	}
	f := defaults()
	if err := yamlconf.Decode(name, src, &f); err != nil {
		return nil, err
	}
	f.path, f.src = name, src
	f.fillIn()
	errs := f.validate()
	if len(errs) > 0 {
		return nil, yamlconf.Locate(name, src, errs)
	}
	// Each node's whole config is checked last, with the node's own
	// validation; its errors point at the inventory lines that set them.
	var nodeErrs []error
	for _, n := range f.Live() {
		if _, err := f.NodeConfig(n); err != nil {
			nodeErrs = append(nodeErrs, err)
		}
	}
	if err := errors.Join(nodeErrs...); err != nil {
		return nil, err
	}
	return &f, nil
}

// fillIn derives what the file may leave out: statuses, hostnames, empty
// project entries.
func (f *Fleet) fillIn() {
	for name, p := range f.Projects {
		if p == nil {
			f.Projects[name] = &Project{}
		}
	}
	for i, n := range f.Nodes {
		if n == nil {
			n = &Node{}
			f.Nodes[i] = n
		}
		n.index = i
		if n.Status == "" {
			n.Status = Active
		}
		if n.Name == "" && labelRE.MatchString(n.Sponsor.Slug) && f.Domain != "" {
			n.Name = n.Sponsor.Slug + "." + f.Domain
		}
	}
}

// ProjectNames returns the portfolio's project names, sorted.
func (f *Fleet) ProjectNames() []string {
	names := make([]string, 0, len(f.Projects))
	for n := range f.Projects {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// MinNodesOf is the number of active nodes a project needs.
func (f *Fleet) MinNodesOf(project string) int {
	if p := f.Projects[project]; p != nil && p.MinNodes != nil {
		return *p.MinNodes
	}
	return f.MinNodes
}

// MinContinentsOf is the number of continents a project's nodes must span.
func (f *Fleet) MinContinentsOf(project string) int {
	if p := f.Projects[project]; p != nil {
		return p.MinContinents
	}
	return 0
}

// UsableDisk is what a node's projects may fill: the disk less the
// headroom.
func (f *Fleet) UsableDisk(n *Node) int64 {
	return int64(float64(n.Disk.Int()) * (1 - f.HeadroomPercent/100))
}

// RegistrationOf is the node's registration state with a project.
func (n *Node) RegistrationOf(project string) string {
	if s := n.Registrations[project]; s != "" {
		return s
	}
	return Pending
}
