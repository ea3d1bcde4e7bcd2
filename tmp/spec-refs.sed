# Replaces every "spec section(s) N" reference (a document that is not in the repository) with the paper's figure,
# table or section, or with the official code (github.com/bychen515/GLiT) where the fact comes from the code.
# Each substitution matches one exact phrase, so the script can run over all the files at once and touches nothing else:
#   sed -i -f tmp/spec-refs.sed lib/model/*.ts lib/search/*.ts lib/experiments/*.ts test/variants.test.ts \
#     test/reference/glit_torch.py notebooks/0[15678]_*.ipynb bench/bench.ts bench/gpu.sh bench/reference.ts \
#     test/bench.test.ts
# Afterwards `grep -rn -i "spec section" lib test bench scripts notebooks` finds nothing.

# lib/model/local-modules.ts:1
s|alternatives to the paper's 1-D conv module (Table 6; spec section 5), chosen by|alternatives to the paper's 1-D conv module (its Table 6), chosen by|
# lib/model/flops.ts:4
s|converted official weights load\. Spec sections 1 and 4\. The Table 6 local modules|converted official weights load. FLOPs as the official count_mixit_flops (glit_models.py) counts them.\n// The Table 6 local modules|
# lib/model/block.ts:1
s|as the official GLiT code builds it (spec section 1):|as the official GLiT code builds it (mix_attention.py; the paper's Figure 2):|
# lib/model/arch.ts:4
s|^// Spec sections 1, 2, 4 and 5 (the Table 6 local modules)\. Paper symbols:|// The paper's GL block (Figure 2) and search space, the official GLiT-Tiny (glit_models.py) and Table 6's local\n// modules. Paper symbols:|
# lib/model/arch.ts:234
s|The searched GLiT-Tiny of the official code (spec section 4), at|The searched GLiT-Tiny of the official code (glit_models.py; the paper's Figure 5), at|
# lib/search/pipeline.ts:1
s|^// The hierarchical search (spec section 3) as resumable stages|// The paper's hierarchical search as resumable stages|
# lib/search/evolution.ts:1
s|^// Evolutionary search (SPOS's EA, spec section 3) and random search over a SearchSpace, with any async fitness\.|// Evolutionary search (SPOS's EA, which both stages of the paper's search use) and random search over a SearchSpace,\n// with any async fitness.|
# lib/search/space.ts:3
s|resume its state as JSON\. Spec sections 2 and 3\.|resume its state as JSON. The paper's search space and the two stages of its search.|
# lib/search/space.ts:16
s|^// Candidate values of the paper's Tiny space (spec section 2)\.|// Candidate values of the paper's search space for its Tiny model.|
# lib/search/space.ts:93
s|9 options for a block with G global heads (spec section 2)\.|9 options for a block with G global heads (the option indices of glit_models.py).|
# lib/search/space.ts:108 ("the spec": the same document)
s|(the hierarchical method's default, as the spec asks) is the released code's|(the hierarchical method's default) is the released code's|
# lib/experiments/verdict.ts:4
s|^// Spec section 5\.$|// The claims are those of the paper's ablation study (Tables 1, 4, 5 and 6).|
# lib/experiments/reproduce.ts:3
s|so a long reproduction can be stopped and continued\. Spec section 5\.|so a long reproduction can be stopped and continued.\n// The rows are those of the paper's ablation study, Tables 1, 4, 5 and 6.|
# test/reference/glit_torch.py:3
s|^Written from the spec (section 1), not from lib/: |Written from a description of the official model (the paper's Figure 2, the official code's layer order), not from\nlib/: |
# test/reference/glit_torch.py:10
s|Table 6's local modules (spec section 5; model\.localModule, no official code)|Table 6's local modules (model.localModule; the official code has none)|
# test/variants.test.ts:1
s|^// The ablation variants (spec section 5): uniform|// The paper's ablation variants: uniform|

# Notebooks 01 and 05-08 (their markdown and code cells are JSON strings: "\n" below is the two characters in the file)
# notebooks/01_global_local_module.ipynb:59 (markdown)
s|as the search found it (official code; spec section 4):|as the search found it (the official glit_models.py):|
# notebooks/01_global_local_module.ipynb:436 (a comment in a code cell)
s|// Published figures (spec section 4)\. The README gives GLiT-Tiny only\.|// Published figures: the paper's Table 3 and the official README (GLiT-Tiny only).|
# notebooks/05_table1_head_distributions.ipynb:12 (markdown)
s|1-D convolution over the token sequence, spec section 1):|1-D convolution over the token sequence; Figure 2):|
# notebooks/05_table1_head_distributions.ipynb:151-152, 06_table4_search_space.ipynb:158-159,
# 07_table5_search_method.ipynb:164-165, 08_table6_locality.ipynb:161-162 (markdown: one phrase over two lines)
s|Params and FLOPs are the official count (spec\\n",$|Params and FLOPs are the official count (as\\n",|
s|^\( *"\)section 4); for a searched row|\1glit_models.py counts them); for a searched row|
# notebooks/07_table5_search_method.ipynb:91 (markdown)
s|"The rows search the same full space (spec section 2)\. |"The rows all search the paper's full space. |

# Not "spec section", but pointers to the README's Performance section, which moved to docs/performance.md:
# bench/bench.ts:2-3
s|The numbers in README\.md's Performance$|The numbers in docs/performance.md|
# bench/gpu.sh:2
s|^# The GPU rows of README\.md's Performance table:|# The GPU rows of docs/performance.md's table:|
# bench/reference.ts:23
s|(OpenBLAS itself always gets one; see README, Performance)|(OpenBLAS itself always gets one; see docs/performance.md, Setup)|
# test/bench.test.ts:1
s|carries the fields README's Performance table is made of\.|carries the fields docs/performance.md's table is made of.|
