// Command fedgan-agent is the device agent flashed onto boards: a small
// static binary that links no broker.
//
//	fedgan-agent -c /etc/fedgan/topology.yaml --id c1-d1
package main
