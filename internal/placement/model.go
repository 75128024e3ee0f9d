// Package placement decides which projects each node should host so the
// fleet serves as many bytes as it can: within each node's disk and port,
// with every project on its minimum number of nodes and continents, and
// with as few changes to the current placement as pay for themselves.
//
// The model, in short: a node hosting a project serves its expected bytes
// per day (measured when it hosts it already, else the mean of its peers
// in the same country, continent or fleet, else the inventory's figure),
// shared with the other hosts of the project nearby: each host within the
// same country takes up to `overlap` of it, across borders less with
// distance (halving about every 0.7 radius), a weaker host in proportion
// to its strength (see pull). A node never serves more than its
// port allows. The planner repairs what is broken (disk, replicas,
// continents), then makes the single change that gains most while one
// gains at least MinGain bytes a day.
package placement

import "micromirror/internal/geo"

// Node is a node as the planner sees it.
type Node struct {
	Name string
	// Country is an ISO 3166-1 alpha-2 code; Point its position, if known.
	Country  string
	Point    geo.Point
	HasPoint bool
	// Disk is what its projects may fill (the disk less the headroom).
	Disk int64
	// Capacity is the most it can serve, in bytes per day.
	Capacity float64
	// Fixed nodes host the operator's list: the planner counts them but
	// never changes them.
	Fixed   bool
	Current []string
}

// Project is a project of the fleet's portfolio.
type Project struct {
	Name          string
	Size          int64
	MinNodes      int
	MinContinents int
	// Prior is the bytes per day a host is expected to serve when no node
	// has served it yet.
	Prior float64
}

// Demand is the measured bytes per day each node served of each project
// it hosts: node -> project -> bytes per day.
type Demand map[string]map[string]float64

// Params tune the plan.
type Params struct {
	// MinGain is the least gain in bytes per day a change must bring.
	MinGain float64
	// Overlap is the share of a project's audience two hosts in the same
	// country compete for; RadiusKM how fast that fades across borders.
	Overlap  float64
	RadiusKM float64
	// MaxChanges caps the changes of one plan (0: no cap).
	MaxChanges int
	// MaxProjects caps the projects of an auto node (0: no cap): each one
	// is another sync from the upstream and another registration.
	MaxProjects int
}

// Reasons for a change.
const (
	ReasonDemand     = "demand"
	ReasonReplicas   = "replicas"
	ReasonContinents = "continents"
	ReasonDisk       = "disk"
	ReasonTooMany    = "max_projects"
	ReasonPortfolio  = "portfolio"
)

// Change is one project added to or removed from one node.
type Change struct {
	Node    string `json:"node"`
	Project string `json:"project"`
	// Add is true for an addition, false for a removal.
	Add bool `json:"add"`
	// Gain is what the change is expected to bring the fleet, in bytes per
	// day, in the planned placement (negative for what a removal gives up).
	Gain float64 `json:"gain_bytes_per_day"`
	// DiskUsed of Disk is the node's disk after the plan.
	DiskUsed int64  `json:"disk_used"`
	Disk     int64  `json:"disk"`
	Reason   string `json:"reason"`
	// Estimate says where the expected bytes come from.
	Estimate string `json:"estimate"`
}

// Plan is the planner's answer.
type Plan struct {
	Changes []Change `json:"changes"`
	// Before and After are the fleet's expected bytes per day.
	Before float64 `json:"before_bytes_per_day"`
	After  float64 `json:"after_bytes_per_day"`
	// SyncBytes is what the added projects' first syncs pull.
	SyncBytes int64 `json:"sync_bytes"`
	// Placement is every node's projects after the plan.
	Placement map[string][]string `json:"placement"`
	// Unmet lists the minimums the plan could not reach.
	Unmet []string `json:"unmet,omitempty"`
}
