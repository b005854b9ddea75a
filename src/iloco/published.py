"""Values reported in the cited papers: the published side of each comparison.

The figures draw them and the paper quotes them through macros generated from here
(``paper/generated/constants.tex``), so no literature number is typed into the text.
"""

from __future__ import annotations

#: Fornasier, Klock, Rauchensteiner (2021), robust identification of shallow networks, d = m = 20:
#: no network fully recovered up to ``none_up_to`` Hessians, 85-100 % from ``from_nh`` on.
ID1_FORNASIER = {"d": 20, "m": 20, "none_up_to": 16, "from_nh": 20, "low": 0.85, "high": 1.0}

#: Arora, Cohen, Hu, Luo (2019), matrix completion of a 100 x 100 rank-5 matrix: at
#: ``low_obs`` observations depth >= 3 recovers where depth 2 and the nuclear norm do not;
#: at ``high_obs`` all recover.
LR1_ARORA = {"d": 100, "rank": 5, "low_obs": 2000, "high_obs": 5000}

#: Soudry, Hoffer, Nacson, Gunasekar, Srebro (2018), Figure 1: the support vectors of class +1
#: (class -1 mirrored) and the homogeneous hard-margin SVM they define (margin 1).
SOUDRY_SUPPORT = ((0.5, 1.5), (1.5, 0.5))
SOUDRY_SVM = (0.5, 0.5)

#: Arora et al.'s optimizer (their code, GroupRMSprop): learning rate, decay and the epsilon
#: they add after the square root, on their loss (1/m) sum r^2 (twice ours).
LR1_ARORA_RMSPROP = {"lr": 1e-3, "beta": 0.99, "eps": 1e-4}
