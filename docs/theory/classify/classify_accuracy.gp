# classify_accuracy: drawn by tttlab; `gnuplot classify_accuracy.gp` redraws it (set terminal/output first)
set title "Classification worlds: d1=2048, s=8, 10 classes (bars: 90% bootstrap CI)" noenhanced
set xlabel "d2 / d1" noenhanced
set ylabel "test accuracy" noenhanced
set logscale x
set grid
set key below maxrows 4 noenhanced
datafile = "classify_accuracy.dat"
plot datafile index 0 using 1:2:3:4 with yerrorlines title "global head", \
     datafile index 1 using 1:2:3:4 with yerrorlines title "TTT", \
     datafile index 2 using 1:2:3:4 with yerrorlines title "majority vote", \
     datafile index 3 using 1:2 with lines dt 2 lc rgb 'black' title "noiseless label rule (oracle)"
