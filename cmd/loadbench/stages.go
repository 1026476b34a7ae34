package main

import (
	"fmt"
	"slices"
	"strings"
)

// The stages a run can be limited to with -only. Each stage's baseline runs with it.
const (
	stageIngest   = "ingest"   // raw inbox-row insert beside webhook ingest
	stageAck      = "ack"      // ack latency open loop at half the ingest capacity
	stageDelivery = "delivery" // bare SDK signal beside relay delivery
	stageLatency  = "latency"  // webhook-to-state latency at half the completion rate
	stageHistory  = "history"  // history events of a one-check screening per provider
	stageCreation = "creation" // screening creation beside the bare SDK workflow start
	stageOpen     = "open"     // many open screenings: memory, API reads, completing them all
)

var allStages = []string{stageIngest, stageAck, stageDelivery, stageLatency, stageHistory, stageCreation, stageOpen}

// stageNeeds names the stage whose figure another stage is paced by: ack runs at half the
// measured ingest capacity, latency at half the completion rate measured after delivery, and the
// open screenings' first chunk is the creation measurement.
var stageNeeds = map[string]string{stageAck: stageIngest, stageLatency: stageDelivery, stageOpen: stageCreation}

// stages is the set of stages a run measures.
type stages map[string]bool

// parseStages reads -only's comma list; empty means every stage. The stages a chosen one is paced
// by are added to it.
func parseStages(list string) (stages, error) {
	chosen := stages{}
	if strings.TrimSpace(list) == "" {
		for _, s := range allStages {
			chosen[s] = true
		}
		return chosen, nil
	}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(allStages, name) {
			return nil, fmt.Errorf("-only: unknown stage %q (stages: %s)", name, strings.Join(allStages, ","))
		}
		chosen[name] = true
		if need, ok := stageNeeds[name]; ok {
			chosen[need] = true
		}
	}
	return chosen, nil
}

// names lists the chosen stages in the order of allStages.
func (s stages) names() []string {
	var names []string
	for _, name := range allStages {
		if s[name] {
			names = append(names, name)
		}
	}
	return names
}
