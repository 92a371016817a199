# classify_gain: drawn by tttlab; `gnuplot classify_gain.gp` redraws it (set terminal/output first)
set title "TTT - global head, accuracy (paired bootstrap 90% CI)" noenhanced
set xlabel "d2 / d1" noenhanced
set ylabel "accuracy difference" noenhanced
set logscale x
set grid
set key below maxrows 4 noenhanced
set xzeroaxis lt -1
datafile = "classify_gain.dat"
plot datafile index 0 using 1:2:3:4 with yerrorbars title "TTT - global", \
     datafile index 1 using 1:2 with lines lc rgb 'dark-red' notitle
