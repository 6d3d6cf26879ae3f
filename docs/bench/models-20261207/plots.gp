# The plots of this report (eddy-bench models). To draw them again, run
# `gnuplot plots.gp` in this directory.
PNGTERM = strstrt(GPVAL_TERMINALS, 'pngcairo') > 0 ? "pngcairo noenhanced font 'Sans,10'" : "png noenhanced"

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'fanout-d20ms-throughput.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'fanout d20ms: throughput vs concurrency (c)'
set xlabel 'concurrency (c)'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'fanout-d20ms-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'fanout-d20ms-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'fanout-d20ms-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'fanout-d20ms-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'fanout-d20ms-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'fanout-d20ms-throughput.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'fanout d20ms: throughput vs concurrency (c)'
set xlabel 'concurrency (c)'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'fanout-d20ms-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'fanout-d20ms-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'fanout-d20ms-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'fanout-d20ms-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'fanout-d20ms-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'fanout-d20ms-p99.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'fanout d20ms: p99 latency vs concurrency (c)'
set xlabel 'concurrency (c)'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'fanout-d20ms-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'fanout-d20ms-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'fanout-d20ms-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'fanout-d20ms-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'fanout-d20ms-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'fanout-d20ms-p99.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'fanout d20ms: p99 latency vs concurrency (c)'
set xlabel 'concurrency (c)'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'fanout-d20ms-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'fanout-d20ms-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'fanout-d20ms-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'fanout-d20ms-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'fanout-d20ms-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'fanout-d20ms-wall.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'fanout d20ms: wall time vs concurrency (c)'
set xlabel 'concurrency (c)'
set ylabel 'wall time (s)'
set logscale y
set format y '%g'
plot 'fanout-d20ms-threads.dat' using 1:4 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'fanout-d20ms-thread-pool.dat' using 1:4 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'fanout-d20ms-single-loop.dat' using 1:4 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'fanout-d20ms-multi-reactor.dat' using 1:4 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'fanout-d20ms-thread-per-core.dat' using 1:4 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core', \
     'fanout-d20ms-ideal.dat' using 1:2 with lines dt 2 lw 2 lc rgb 'black' title 'ideal n*d/c'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'fanout-d20ms-wall.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'fanout d20ms: wall time vs concurrency (c)'
set xlabel 'concurrency (c)'
set ylabel 'wall time (s)'
set logscale y
set format y '%g'
plot 'fanout-d20ms-threads.dat' using 1:4 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'fanout-d20ms-thread-pool.dat' using 1:4 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'fanout-d20ms-single-loop.dat' using 1:4 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'fanout-d20ms-multi-reactor.dat' using 1:4 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'fanout-d20ms-thread-per-core.dat' using 1:4 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core', \
     'fanout-d20ms-ideal.dat' using 1:2 with lines dt 2 lw 2 lc rgb 'black' title 'ideal n*d/c'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,700
set output 'fanout-cpu-rss.svg'
set datafile missing '?'
set multiplot layout 2,1 title 'fanout d20ms: CPU time and peak RSS per model, at its largest c'
set style fill solid 0.8 border -1
set boxwidth 0.6
set yrange [0:*]
set xrange [-0.6:4.4]
set grid ytics
set bmargin 3.5
unset key
set ylabel 'CPU time (s)'
plot 'fanout-cpu-rss.dat' using 0:3:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
set ylabel 'peak RSS (MiB)'
plot 'fanout-cpu-rss.dat' using 0:4:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
unset multiplot
unset output

reset
set terminal @PNGTERM size 800,700
set output 'fanout-cpu-rss.png'
set datafile missing '?'
set multiplot layout 2,1 title 'fanout d20ms: CPU time and peak RSS per model, at its largest c'
set style fill solid 0.8 border -1
set boxwidth 0.6
set yrange [0:*]
set xrange [-0.6:4.4]
set grid ytics
set bmargin 3.5
unset key
set ylabel 'CPU time (s)'
plot 'fanout-cpu-rss.dat' using 0:3:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
set ylabel 'peak RSS (MiB)'
plot 'fanout-cpu-rss.dat' using 0:4:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
unset multiplot
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'server-closed-throughput.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'server closed: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'server-closed-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-closed-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-closed-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-closed-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-closed-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'server-closed-throughput.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'server closed: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'server-closed-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-closed-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-closed-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-closed-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-closed-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'server-closed-p99.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'server closed: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'server-closed-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-closed-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-closed-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-closed-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-closed-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'server-closed-p99.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'server closed: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'server-closed-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-closed-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-closed-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-closed-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-closed-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,700
set output 'server-cpu-rss.svg'
set datafile missing '?'
set multiplot layout 2,1 title 'server closed: CPU time and peak RSS per model, at its largest conns'
set style fill solid 0.8 border -1
set boxwidth 0.6
set yrange [0:*]
set xrange [-0.6:4.4]
set grid ytics
set bmargin 3.5
unset key
set ylabel 'CPU time (s)'
plot 'server-cpu-rss.dat' using 0:3:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
set ylabel 'peak RSS (MiB)'
plot 'server-cpu-rss.dat' using 0:4:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
unset multiplot
unset output

reset
set terminal @PNGTERM size 800,700
set output 'server-cpu-rss.png'
set datafile missing '?'
set multiplot layout 2,1 title 'server closed: CPU time and peak RSS per model, at its largest conns'
set style fill solid 0.8 border -1
set boxwidth 0.6
set yrange [0:*]
set xrange [-0.6:4.4]
set grid ytics
set bmargin 3.5
unset key
set ylabel 'CPU time (s)'
plot 'server-cpu-rss.dat' using 0:3:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
set ylabel 'peak RSS (MiB)'
plot 'server-cpu-rss.dat' using 0:4:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
unset multiplot
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'server-closed-p16-throughput.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'server closed-p16: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'server-closed-p16-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-closed-p16-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-closed-p16-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-closed-p16-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-closed-p16-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'server-closed-p16-throughput.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'server closed-p16: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'server-closed-p16-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-closed-p16-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-closed-p16-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-closed-p16-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-closed-p16-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'server-closed-p16-p99.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'server closed-p16: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'server-closed-p16-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-closed-p16-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-closed-p16-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-closed-p16-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-closed-p16-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'server-closed-p16-p99.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'server closed-p16: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'server-closed-p16-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-closed-p16-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-closed-p16-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-closed-p16-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-closed-p16-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'server-open-throughput.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'server open: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'server-open-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-open-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-open-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-open-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-open-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'server-open-throughput.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'server open: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'server-open-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-open-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-open-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-open-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-open-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'server-open-p99.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'server open: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'server-open-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-open-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-open-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-open-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-open-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'server-open-p99.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'server open: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'server-open-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'server-open-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'server-open-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'server-open-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'server-open-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'mixed-uniform-throughput.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'mixed uniform: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'mixed-uniform-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-uniform-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-uniform-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-uniform-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-uniform-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'mixed-uniform-throughput.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'mixed uniform: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'mixed-uniform-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-uniform-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-uniform-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-uniform-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-uniform-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'mixed-uniform-p99.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'mixed uniform: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'mixed-uniform-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-uniform-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-uniform-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-uniform-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-uniform-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'mixed-uniform-p99.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'mixed uniform: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'mixed-uniform-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-uniform-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-uniform-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-uniform-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-uniform-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,700
set output 'mixed-cpu-rss.svg'
set datafile missing '?'
set multiplot layout 2,1 title 'mixed uniform: CPU time and peak RSS per model, at its largest conns'
set style fill solid 0.8 border -1
set boxwidth 0.6
set yrange [0:*]
set xrange [-0.6:4.4]
set grid ytics
set bmargin 3.5
unset key
set ylabel 'CPU time (s)'
plot 'mixed-cpu-rss.dat' using 0:3:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
set ylabel 'peak RSS (MiB)'
plot 'mixed-cpu-rss.dat' using 0:4:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
unset multiplot
unset output

reset
set terminal @PNGTERM size 800,700
set output 'mixed-cpu-rss.png'
set datafile missing '?'
set multiplot layout 2,1 title 'mixed uniform: CPU time and peak RSS per model, at its largest conns'
set style fill solid 0.8 border -1
set boxwidth 0.6
set yrange [0:*]
set xrange [-0.6:4.4]
set grid ytics
set bmargin 3.5
unset key
set ylabel 'CPU time (s)'
plot 'mixed-cpu-rss.dat' using 0:3:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
set ylabel 'peak RSS (MiB)'
plot 'mixed-cpu-rss.dat' using 0:4:5:xtic(strcol(1)."\n".strcol(2)) with boxes lc rgb variable
unset multiplot
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'mixed-skewed-throughput.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'mixed skewed: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'mixed-skewed-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-skewed-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-skewed-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-skewed-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-skewed-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'mixed-skewed-throughput.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'mixed skewed: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'mixed-skewed-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-skewed-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-skewed-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-skewed-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-skewed-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'mixed-skewed-p99.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'mixed skewed: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'mixed-skewed-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-skewed-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-skewed-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-skewed-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-skewed-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'mixed-skewed-p99.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'mixed skewed: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'mixed-skewed-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-skewed-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-skewed-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-skewed-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-skewed-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'mixed-skewed-open-throughput.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'mixed skewed-open: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'mixed-skewed-open-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-skewed-open-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-skewed-open-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-skewed-open-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-skewed-open-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'mixed-skewed-open-throughput.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, graph 0.06, 0
set logscale x
set format x '%g'
set title 'mixed skewed-open: throughput vs connections'
set xlabel 'connections'
set ylabel 'throughput (requests/s)'
set yrange [0:*]
plot 'mixed-skewed-open-threads.dat' using 1:2 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-skewed-open-thread-pool.dat' using 1:2 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-skewed-open-single-loop.dat' using 1:2 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-skewed-open-multi-reactor.dat' using 1:2 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-skewed-open-thread-per-core.dat' using 1:2 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal svg dynamic noenhanced font 'Sans,11' background rgb 'white' size 800,500
set output 'mixed-skewed-open-p99.svg'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'mixed skewed-open: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'mixed-skewed-open-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-skewed-open-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-skewed-open-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-skewed-open-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-skewed-open-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output

reset
set terminal @PNGTERM size 800,500
set output 'mixed-skewed-open-p99.png'
set datafile missing '?'
set grid
set key outside right top vertical Left reverse
set offsets graph 0.03, graph 0.03, 0, 0
set logscale x
set format x '%g'
set title 'mixed skewed-open: p99 latency vs connections'
set xlabel 'connections'
set ylabel 'p99 latency (ms)'
set logscale y
set format y '%g'
plot 'mixed-skewed-open-threads.dat' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#d62728' title 'threads', \
     'mixed-skewed-open-thread-pool.dat' using 1:3 with linespoints lw 2 pt 7 ps 1.2 lc rgb '#ff7f0e' title 'thread-pool', \
     'mixed-skewed-open-single-loop.dat' using 1:3 with linespoints lw 2 pt 9 ps 1.2 lc rgb '#2ca02c' title 'single-loop', \
     'mixed-skewed-open-multi-reactor.dat' using 1:3 with linespoints lw 2 pt 11 ps 1.2 lc rgb '#1f77b4' title 'multi-reactor', \
     'mixed-skewed-open-thread-per-core.dat' using 1:3 with linespoints lw 2 pt 13 ps 1.2 lc rgb '#9467bd' title 'thread-per-core'
unset output
