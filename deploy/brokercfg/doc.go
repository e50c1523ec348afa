// Package brokercfg turns the topology's broker settings (listeners,
// limits, password files, monitor user) into broker.Config for the
// embedded brokers of edges and of the cloud.
package brokercfg
