//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package wire

// nativeLittleEndian reports whether float32s are stored little-endian in
// memory, so that a tensor's wire bytes can be copied as they are.
const nativeLittleEndian = true
