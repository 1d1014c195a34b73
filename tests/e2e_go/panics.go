// A cgo Go program that panics after reading the clock: it must die exactly as without the shim
// (exit status 2, the same first line on stderr).
package main

// #include <stdlib.h>
import "C"

import (
	"fmt"
	"time"
)

func main() {
	C.free(nil)
	t := time.Now()
	fmt.Println("before panic", t.Year() > 2000)
	panic("boom")
}
