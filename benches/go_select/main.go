// Command go_select is the Go twin of benches/select_bench.c
// (eddy_select_bench): with GOMAXPROCS=1, a producer goroutine sends msgs
// numbered uint64 elements, element i to channel i % k, then closes the
// channels; a consumer goroutine receives them all:
//
//	recv     k = 1, v, ok := <-ch
//	select2  k = 2, a select over 2 receives
//	select8  k = 8, a select over 8 receives
//
// (a closed channel's case is set to nil, which never fires). It runs
// warmup untimed repetitions, then iters timed ones, and prints one line
// per case with the median (and least and most) ns per received element:
//
//	go_select [iters=20] [warmup=3] [cap=1024] [msgs=1000000]
//	case=select2 workers=1 cap=1024 ns_per_op=... iters=20 ... runtime=go
//
// Standard library only. Build: go build (GOPROXY=off, no dependencies).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"
)

type result struct{ n, sum uint64 }

func produce(chs []chan uint64, msgs uint64) {
	k := uint64(len(chs))
	for i := uint64(0); i < msgs; i++ {
		chs[i%k] <- i
	}
	for _, c := range chs {
		close(c)
	}
}

func consumeRecv(c chan uint64) (r result) {
	for {
		v, ok := <-c
		if !ok {
			return
		}
		r.n++
		r.sum += v
	}
}

func consume2(c0, c1 chan uint64) (r result) {
	for open := 2; open > 0; {
		select {
		case v, ok := <-c0:
			if !ok {
				c0 = nil
				open--
				continue
			}
			r.n++
			r.sum += v
		case v, ok := <-c1:
			if !ok {
				c1 = nil
				open--
				continue
			}
			r.n++
			r.sum += v
		}
	}
	return
}

func consume8(c []chan uint64) (r result) {
	c0, c1, c2, c3, c4, c5, c6, c7 := c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
	var v uint64
	var ok bool
	for open := 8; open > 0; {
		select {
		case v, ok = <-c0:
			if !ok {
				c0 = nil
			}
		case v, ok = <-c1:
			if !ok {
				c1 = nil
			}
		case v, ok = <-c2:
			if !ok {
				c2 = nil
			}
		case v, ok = <-c3:
			if !ok {
				c3 = nil
			}
		case v, ok = <-c4:
			if !ok {
				c4 = nil
			}
		case v, ok = <-c5:
			if !ok {
				c5 = nil
			}
		case v, ok = <-c6:
			if !ok {
				c6 = nil
			}
		case v, ok = <-c7:
			if !ok {
				c7 = nil
			}
		}
		if !ok {
			open--
			continue
		}
		r.n++
		r.sum += v
	}
	return
}

// once runs one repetition and returns ns per received element.
func once(k int, sel bool, capacity int, msgs uint64) float64 {
	chs := make([]chan uint64, k)
	for i := range chs {
		chs[i] = make(chan uint64, capacity)
	}
	res := make(chan result, 1)
	t0 := time.Now()
	go func() {
		switch {
		case !sel:
			res <- consumeRecv(chs[0])
		case k == 2:
			res <- consume2(chs[0], chs[1])
		default:
			res <- consume8(chs)
		}
	}()
	go produce(chs, msgs)
	r := <-res
	el := time.Since(t0)
	if r.n != msgs || r.sum != msgs*(msgs-1)/2 {
		fmt.Fprintf(os.Stderr, "go_select: lost elements: n=%d sum=%d\n", r.n, r.sum)
		os.Exit(1)
	}
	return float64(el.Nanoseconds()) / float64(msgs)
}

func arg(i int, name string, def uint64) uint64 {
	if len(os.Args) <= i {
		return def
	}
	v, err := strconv.ParseUint(os.Args[i], 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go_select: %s must be an integer, got %q\n", name, os.Args[i])
		os.Exit(2)
	}
	return v
}

func main() {
	if len(os.Args) > 5 {
		fmt.Fprintln(os.Stderr, "usage: go_select [iters=20] [warmup=3] [cap=1024] [msgs=1000000]")
		os.Exit(2)
	}
	iters := int(arg(1, "iters", 20))
	warmup := int(arg(2, "warmup", 3))
	capacity := int(arg(3, "cap", 1024))
	msgs := arg(4, "msgs", 1000000)
	if iters < 1 || msgs < 1 {
		fmt.Fprintln(os.Stderr, "go_select: iters and msgs must be at least 1")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	cases := []struct {
		name string
		k    int
		sel  bool
	}{{"recv", 1, false}, {"select2", 2, true}, {"select8", 8, true}}
	for _, c := range cases {
		s := make([]float64, 0, iters)
		for i := 0; i < warmup+iters; i++ {
			ns := once(c.k, c.sel, capacity, msgs)
			if i >= warmup {
				s = append(s, ns)
			}
		}
		sort.Float64s(s)
		med := s[iters/2]
		if iters%2 == 0 {
			med = (s[iters/2-1] + s[iters/2]) / 2
		}
		fmt.Printf("case=%s workers=1 cap=%d ns_per_op=%.1f iters=%d min_ns_per_op=%.1f "+
			"max_ns_per_op=%.1f runtime=go\n", c.name, capacity, med, iters, s[0], s[iters-1])
	}
}
