#include "support/preset_tables.h"

#include <gtest/gtest.h>

#include <set>

#include "kquant/imatrix.h"
#include "kquant/presets.h"

namespace kquant::test {

Expect dense(const std::string& output, const std::string& token, const std::string& q, const std::string& k,
             const std::string& v, const std::string& o, const std::string& gate, const std::string& up,
             const std::string& down) {
    Expect e{{"token_embd.weight", token}, {"attn_q.weight", q},      {"attn_k.weight", k},
             {"attn_v.weight", v},         {"attn_output.weight", o}, {"ffn_gate.weight", gate},
             {"ffn_up.weight", up},        {"ffn_down.weight", down}};
    if (!output.empty()) e["output.weight"] = output;
    return e;
}

Expect moe(const std::string& output, const std::string& token, const std::string& q, const std::string& k,
           const std::string& v, const std::string& o, const std::string& gate_up, const std::string& down) {
    return {{"output.weight", output},          {"token_embd.weight", token},     {"attn_q.weight", q},
            {"attn_k.weight", k},               {"attn_v.weight", v},             {"attn_output.weight", o},
            {"ffn_gate_exps.weight", gate_up},  {"ffn_up_exps.weight", gate_up},  {"ffn_down_exps.weight", down},
            {"ffn_gate_shexp.weight", gate_up}, {"ffn_up_shexp.weight", gate_up}, {"ffn_down_shexp.weight", down}};
}

void check_preset_table(const ModelSpec& spec, const std::vector<PresetCase>& cases, bool all_dry_run) {
    const SyntheticModel m = make_model(spec);
    const ModelInfo info = m.info();
    const Imatrix im = full_imatrix(m);
    std::map<std::string, Type> src;
    for (const gguf::TensorInfo& t : m.tensors) src[t.name] = t.type;

    for (const PresetCase& c : cases) {
        const bool dry_run = all_dry_run || c.dry_run;
        SCOPED_TRACE(c.preset + (c.imatrix ? " with imatrix" : "") + (dry_run ? " (dry run)" : ""));
        QuantParams p;
        p.set_preset(parse_preset(c.preset));
        p.dry_run = dry_run;
        const QuantPlan plan = plan_quantization(m.tensors, info, p, c.imatrix ? &im : nullptr);
        EXPECT_EQ(plan.n_fallback, c.n_fallback);
        ASSERT_EQ(plan.tensors.size(), m.tensors.size());
        std::set<std::string> seen_roles;
        for (const TensorPlan& t : plan.tensors) {
            const std::string role = role_of(t.name);
            const auto it = c.expect.find(role);
            const Type want = it == c.expect.end() ? src.at(t.name) : expected_type(it->second, layer_of(t.name));
            EXPECT_EQ(type_info(t.dst_type).name, type_info(want).name) << t.name;
            EXPECT_EQ(t.src_type, src.at(t.name)) << t.name;
            if (it == c.expect.end()) {
                EXPECT_EQ(t.action, TensorAction::Copy) << t.name;
            }
            seen_roles.insert(role);
        }
        for (const auto& [role, _] : c.expect) EXPECT_TRUE(seen_roles.count(role)) << "no tensor for role " << role;
    }
}

}  // namespace kquant::test
