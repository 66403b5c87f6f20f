python -W ignore main.py --result_folder "results_mog_nsf/r1e-3" --method nsf --num_samples=2000 --nsteps 1000 --stepsize 0.001 --nkernels=5 --density mog

python -W ignore main.py --result_folder "results_mog_nsf/r1e-3" --method nsf --num_samples=2000 --nsteps 2000 --stepsize 0.001 --nkernels=5 --density mog

python -W ignore main.py --result_folder "results_mog_nsf/r1e-3" --method nsf --num_samples=2000 --nsteps 4000 --stepsize 0.001 --nkernels=5 --density mog

python -W ignore main.py --result_folder "results_mog_nsf/r1e-3" --method nsf --num_samples=2000 --nsteps 1000 --stepsize 0.001 --nkernels=7 --density mog

python -W ignore main.py --result_folder "results_mog_nsf/r1e-3" --method nsf --num_samples=2000 --nsteps 2000 --stepsize 0.001 --nkernels=7 --density mog

python -W ignore main.py --result_folder "results_mog_nsf/r1e-3" --method nsf --num_samples=2000 --nsteps 4000 --stepsize 0.001 --nkernels=7 --density mog

WARNING:absl:No GPU/TPU found, falling back to CPU. (Set TF_CPP_MIN_LOG_LEVEL=0 and rerun for more info.)
Step 0:  2.4617386
Step 100:  0.48008814
Step 200:  0.25838938
Step 300:  0.05026671
Step 400:  -0.09752928
Step 500:  -0.19237788
Step 600:  -0.25791013
Step 700:  -0.30414435
Step 800:  -0.34331295
Step 900:  -0.37128192
KL divergence is 0.04630211132648751
WARNING:absl:No GPU/TPU found, falling back to CPU. (Set TF_CPP_MIN_LOG_LEVEL=0 and rerun for more info.)
Step 0:  2.4276888
Step 100:  0.46629217
Step 200:  0.2731357
Step 300:  0.16290382
Step 400:  0.0076917424
Step 500:  -0.100926004
Step 600:  -0.17425852
Step 700:  -0.22924863
Step 800:  -0.27104405
Step 900:  -0.30177692
Step 1000:  -0.32544234
Step 1100:  -0.34776673
Step 1200:  -0.36690706
Step 1300:  -0.38280055
Step 1400:  -0.39705294
Step 1500:  -0.40765876
Step 1600:  -0.4203752
Step 1700:  -0.43071404
Step 1800:  -0.43894666
Step 1900:  -0.44715118
KL divergence is 0.08128517114160513
WARNING:absl:No GPU/TPU found, falling back to CPU. (Set TF_CPP_MIN_LOG_LEVEL=0 and rerun for more info.)
Step 0:  2.3530366
Step 100:  0.46998808
Step 200:  0.23324631
Step 300:  0.10356638
Step 400:  0.017627459
Step 500:  -0.08225363
Step 600:  -0.1544835
Step 700:  -0.20922713
Step 800:  -0.25124645
Step 900:  -0.283509
Step 1000:  -0.31088948
Step 1100:  -0.33406717
Step 1200:  -0.35420266
Step 1300:  -0.36987358
Step 1400:  -0.3841121
Step 1500:  -0.39663678
Step 1600:  -0.40870884
Step 1700:  -0.41966733
Step 1800:  -0.42926145
Step 1900:  -0.4369427
Step 2000:  -0.44334385
Step 2100:  -0.4505666
Step 2200:  -0.45421064
Step 2300:  -0.4602488
Step 2400:  -0.46566495
Step 2500:  -0.4708493
Step 2600:  -0.4759492
Step 2700:  -0.47831392
Step 2800:  -0.4823128
Step 2900:  -0.486521
Step 3000:  -0.4898317
Step 3100:  -0.49249038
Step 3200:  -0.49566922
Step 3300:  -0.49887824
Step 3400:  -0.5018945
Step 3500:  -0.50333714
Step 3600:  -0.50568914
Step 3700:  -0.50766987
Step 3800:  -0.5095479
Step 3900:  -0.5118776
KL divergence is 0.010775645308542635
WARNING:absl:No GPU/TPU found, falling back to CPU. (Set TF_CPP_MIN_LOG_LEVEL=0 and rerun for more info.)
Step 0:  2.4139361
Step 100:  0.3761039
Step 200:  0.1756736
Step 300:  -0.031368457
Step 400:  -0.16053689
Step 500:  -0.24195424
Step 600:  -0.2985657
Step 700:  -0.34150687
Step 800:  -0.3729949
Step 900:  -0.3981697
KL divergence is 0.0386142272154667
WARNING:absl:No GPU/TPU found, falling back to CPU. (Set TF_CPP_MIN_LOG_LEVEL=0 and rerun for more info.)
Step 0:  2.4255676
Step 100:  0.38282046
Step 200:  0.10187998
Step 300:  -0.106541924
Step 400:  -0.21905422
Step 500:  -0.2908037
Step 600:  -0.34185567
Step 700:  -0.37960175
Step 800:  -0.40793628
Step 900:  -0.4315311
Step 1000:  -0.45042786
Step 1100:  -0.46535215
Step 1200:  -0.4772251
Step 1300:  -0.48841965
Step 1400:  -0.49780047
Step 1500:  -0.5050983
Step 1600:  -0.51197547
Step 1700:  -0.51889956
Step 1800:  -0.524768
Step 1900:  -0.5304502
KL divergence is 0.036365178641570406
WARNING:absl:No GPU/TPU found, falling back to CPU. (Set TF_CPP_MIN_LOG_LEVEL=0 and rerun for more info.)
Step 0:  2.4403226
Step 100:  0.44690275
Step 200:  0.119863376
Step 300:  -0.08802462
Step 400:  -0.20396851
Step 500:  -0.27766857
Step 600:  -0.3287231
Step 700:  -0.366296
Step 800:  -0.39441463
Step 900:  -0.41836545
Step 1000:  -0.43733403
Step 1100:  -0.45225036
Step 1200:  -0.46666327
Step 1300:  -0.4783294
Step 1400:  -0.48731646
Step 1500:  -0.4964289
Step 1600:  -0.5046084
Step 1700:  -0.5111705
Step 1800:  -0.5175541
Step 1900:  -0.52320856
Step 2000:  -0.52793676
Step 2100:  -0.5319716
Step 2200:  -0.53591174
Step 2300:  -0.53984034
Step 2400:  -0.54277253
Step 2500:  -0.5455084
Step 2600:  -0.5488862
Step 2700:  -0.5521038
Step 2800:  -0.5548447
Step 2900:  -0.5574971
Step 3000:  -0.56020236
Step 3100:  -0.5626607
Step 3200:  -0.56481665
Step 3300:  -0.5668665
Step 3400:  -0.56909114
Step 3500:  -0.5710553
Step 3600:  -0.57314795
Step 3700:  -0.5750734
Step 3800:  -0.5764583
Step 3900:  -0.5778945
KL divergence is 0.07007981861958552