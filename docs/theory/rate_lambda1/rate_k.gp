# rate_k: drawn by tttlab; `gnuplot rate_k.gp` redraws it (set terminal/output first)
set title "Error vs neighbourhood size k (d1=1024, d2=64, s=4, sigma=0.5)" noenhanced
set xlabel "k" noenhanced
set ylabel "mean (f(x*) - prediction)^2" noenhanced
set logscale x
set logscale y
set grid
set key below maxrows 4 noenhanced
datafile = "rate_k.dat"
plot datafile index 0 using 1:2:3 with yerrorlines title "TTT: min-norm local LS (slope -0.92)", \
     datafile index 1 using 1:2:3 with yerrorlines title "TTT: sparse (Lasso, eq. 6) (slope 0.07)", \
     datafile index 2 using 1:2:3 with yerrorlines title "TTT: sparse (Lasso + LS refit) (slope 0.21)", \
     datafile index 3 using 1:2:3 with yerrorlines title "TTT: sparse (IHT, s' = topic size) (slope -0.89)", \
     datafile index 4 using 1:2:3 with yerrorlines title "global LS head (slope 0.00)", \
     datafile index 5 using 1:2:3 with yerrorlines title "neighbour averaging (slope 0.50)", \
     datafile index 6 using 1:2 with lines dt 2 lc rgb 'black' title "sigma^2 (2s)/k"
