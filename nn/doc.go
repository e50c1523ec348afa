// Package nn is a small float32 neural-network library on gonum's blas32.
package nn
