// Usage: go_window N. A cgo Go program that marks its own counting window, for `vdsotrace attach`
// (the Go counterpart of attach_window.c). Makes 25 time.Now() calls at start (before any attach),
// prints "ready", then reads commands from stdin:
//   'g'  window: main.windowCalls makes N time.Now() calls (two vDSO calls each on Go 1.17+ amd64:
//        CLOCK_REALTIME and CLOCK_MONOTONIC, through runtime.vdsoClockgettimeSym). Prints "done".
//   'q'  makes 25 more calls (after any detach), prints "bye" and exits with 0.
// Nothing else in the program reads CLOCK_REALTIME (the runtime's own reads are monotonic).
package main

// static int linked_with_libc(void) { return 1; }
import "C"

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"
)

var sink int64

//go:noinline
func outsideCalls() {
	for i := 0; i < 25; i++ {
		sink += time.Now().UnixNano()
	}
}

//go:noinline
func windowCalls(n int) {
	for i := 0; i < n; i++ {
		sink += time.Now().UnixNano()
	}
}

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || C.linked_with_libc() != 1 {
		os.Exit(2)
	}
	outsideCalls()
	fmt.Println("ready")
	in := bufio.NewReader(os.Stdin)
	for {
		c, err := in.ReadByte()
		if err != nil || c == 'q' {
			break
		}
		if c != 'g' {
			continue
		}
		windowCalls(n)
		fmt.Println("done")
	}
	outsideCalls()
	fmt.Println("bye")
}
