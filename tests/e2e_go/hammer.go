// A cgo Go program whose clock calls are known exactly: main.hammer calls time.Now() N times
// (two vDSO calls each on Go 1.17+ amd64: CLOCK_REALTIME and CLOCK_MONOTONIC, time_linux_amd64.s)
// and main.since calls time.Since M times (one CLOCK_MONOTONIC call each: nanotime); main.main
// calls time.Now() once.
// Usage: hammer N M EXIT_CODE. Prints a line that depends on nothing but N and M.
package main

// #include <stdlib.h>
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

//go:noinline
func hammer(n int) int {
	later := 0
	prev := time.Now()
	for i := 0; i < n-1; i++ {
		now := time.Now()
		if !now.Before(prev) {
			later++
		}
		prev = now
	}
	return later + 1
}

//go:noinline
func since(start time.Time, m int) int {
	nonNegative := 0
	for i := 0; i < m; i++ {
		if time.Since(start) >= 0 {
			nonNegative++
		}
	}
	return nonNegative
}

func main() {
	C.free(nil) // a real cgo call: the program links libc and loads preloaded libraries
	n, _ := strconv.Atoi(os.Args[1])
	m, _ := strconv.Atoi(os.Args[2])
	code, _ := strconv.Atoi(os.Args[3])
	start := time.Now() // monotonic: time.Since then reads runtime.nanotime, one call
	fmt.Printf("hammer %d since %d\n", hammer(n), since(start, m))
	os.Exit(code)
}
