// The cost of time.Now() in a cgo Go program: the best of 15 rounds of N calls, in ns per call.
// Run natively and under the shim by run_go_bench.py (each time.Now() is two vDSO calls).
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
func loop(n int) int64 {
	var s int64
	for i := 0; i < n; i++ {
		s += int64(time.Now().Nanosecond() & 1)
	}
	return s
}

func main() {
	C.free(nil)
	n, _ := strconv.Atoi(os.Args[1])
	best := time.Duration(1 << 62)
	for r := 0; r < 15; r++ {
		t0 := time.Now()
		loop(n)
		if d := time.Since(t0); d < best {
			best = d
		}
	}
	fmt.Printf("%.3f\n", float64(best.Nanoseconds())/float64(n))
}
