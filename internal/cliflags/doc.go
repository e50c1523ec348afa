// Package cliflags keeps the command lines of fedgan and fedgan-fw
// compatible with the single-dash spellings of long flags that Go's flag
// package accepted before they moved to cobra (-rounds 500, -arch amd64).
package cliflags
