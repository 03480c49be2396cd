// Package nodetest runs an in-process cluster on a fake, faulty network (exported test
// harness).
//
// The network (Network) connects members by raft id. Each member joins with the
// node.Handler that receives its traffic and gets back an Endpoint, the node.PeerTransport
// it sends with. Between any two members the network can drop messages at random, cut
// links, isolate members, partition the cluster, delay messages and let a hook inspect,
// alter or drop each one; Heal removes every fault. All randomness comes from one seed,
// logged when the network is made, so a failing run can be replayed.
package nodetest
