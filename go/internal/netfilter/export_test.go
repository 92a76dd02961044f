package netfilter

// RefuseDynamic makes n's dynamic form one every kernel refuses, to test
// the fallback on a kernel that has the feature.
func RefuseDynamic(n *NFTables) { n.refuseDynamic = true }
