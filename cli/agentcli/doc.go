// Package agentcli is the command line of a device agent, shared by the
// small fedgan-agent binary (which links no broker) and `fedgan agent`.
package agentcli
