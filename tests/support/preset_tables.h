// Expected per-tensor type tables for the presets tests (tests/presets_tables_test.cpp,
// tests/presets_lowbit_test.cpp): a table maps a tensor role ("attn_v.weight") to the type spec that
// expected_type() reads ("q4_K", "q6_K@0-3;q4_K"); check_preset_table plans each case and compares.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "support/preset_models.h"

namespace kquant::test {

using Expect = std::map<std::string, std::string>;

struct PresetCase {
    std::string preset;
    Expect expect;
    int n_fallback = 0;
    bool imatrix = false;  // plan with an imatrix that has an entry for every matrix
    bool dry_run = false;  // plan as --dry-run (type selection only)
};

// A dense model's roles; output left out when empty (tied embeddings).
Expect dense(const std::string& output, const std::string& token, const std::string& q, const std::string& k,
             const std::string& v, const std::string& o, const std::string& gate, const std::string& up,
             const std::string& down);

// A MoE model's roles: gate_up / down apply to the merged experts and to the shared experts alike.
Expect moe(const std::string& output, const std::string& token, const std::string& q, const std::string& k,
           const std::string& v, const std::string& o, const std::string& gate_up, const std::string& down);

// Plans every case on the model of `spec` (as a dry run when the case or all_dry_run says so) and checks
// each tensor's target type, source type and action, and that every expected role exists.
void check_preset_table(const ModelSpec& spec, const std::vector<PresetCase>& cases, bool all_dry_run = false);

}  // namespace kquant::test
