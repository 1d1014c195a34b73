// A pure-Go program (CGO_ENABLED=0: statically linked) whose main.hammer calls time.Now()
// exactly argv[1] times. time.Now makes two vDSO calls on Go 1.19 amd64 (time_linux_amd64.s):
// CLOCK_REALTIME and CLOCK_MONOTONIC.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

var sink int64

//go:noinline
func hammer(n int) {
	for i := 0; i < n; i++ {
		sink += time.Now().UnixNano()
	}
}

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil {
		os.Exit(2)
	}
	hammer(n)
	fmt.Println("hammered", n)
	os.Exit(5)
}
