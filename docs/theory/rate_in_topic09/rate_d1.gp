# rate_d1: drawn by tttlab; `gnuplot rate_d1.gp` redraws it (set terminal/output first)
set title "Error vs concepts d1 (k=128, d2=64, s=4, sigma=0.5, in_topic=0.9)" noenhanced
set xlabel "d1" noenhanced
set ylabel "mean (f(x*) - prediction)^2" noenhanced
set logscale x
set logscale y
set grid
set key below maxrows 4 noenhanced
datafile = "rate_d1.dat"
plot datafile index 0 using 1:2:3 with yerrorlines title "TTT: min-norm local LS (d err/d log d1 = 0.516)", \
     datafile index 1 using 1:2:3 with yerrorlines title "TTT: sparse (Lasso, eq. 6) (d err/d log d1 = 0.0244)", \
     datafile index 2 using 1:2:3 with yerrorlines title "TTT: sparse (Lasso + LS refit) (d err/d log d1 = 0.0398)", \
     datafile index 3 using 1:2:3 with yerrorlines title "TTT: sparse (IHT, s' = topic size) (d err/d log d1 = 0.0161)", \
     datafile index 4 using 1:2:3 with yerrorlines title "global LS head (d err/d log d1 = 0.367)", \
     datafile index 5 using 1:2:3 with yerrorlines title "neighbour averaging (d err/d log d1 = 0.0265)"
