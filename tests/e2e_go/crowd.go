// Many goroutines on many threads reading the clock while the garbage collector runs and
// SIGPROF (the CPU profiler at 1 kHz) lands on every thread, inside the counting code too.
// main.worker calls time.Now() exactly PER times in each of G goroutines.
// Usage: crowd G PER.
package main

// #include <stdlib.h>
import "C"

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

var sink []byte

//go:noinline
func worker(per int, wg *sync.WaitGroup, out *int64) {
	defer wg.Done()
	var ordered int64
	prev := time.Now()
	for i := 1; i < per; i++ {
		now := time.Now()
		if !now.Before(prev) {
			ordered++
		}
		prev = now
		if i%4096 == 0 {
			sink = make([]byte, 64<<10) // garbage, so the collector runs meanwhile
			runtime.Gosched()
		}
	}
	*out = ordered + 1
}

func main() {
	C.free(nil)
	g, _ := strconv.Atoi(os.Args[1])
	per, _ := strconv.Atoi(os.Args[2])
	runtime.SetCPUProfileRate(1000)
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		fmt.Println("profile:", err)
	}
	results := make([]int64, g)
	var wg sync.WaitGroup
	for i := 0; i < g; i++ {
		wg.Add(1)
		go worker(per, &wg, &results[i])
	}
	wg.Wait()
	pprof.StopCPUProfile()
	var total int64
	for _, r := range results {
		total += r
	}
	fmt.Printf("ordered %d of %d\n", total, int64(g)*int64(per))
}
