// Command fedgan runs the roles of a federated GAN deployment (cloud,
// edge, agent), the whole hierarchy on one machine (run), the in-process
// simulator (sim), and a decoder for every topic (watch). See
// `fedgan help`.
package main
