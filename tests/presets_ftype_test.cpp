// The preset table and llama-quantize's TYPE argument (§1.1, §1.3).
#include <gtest/gtest.h>

#include "kquant/error.h"
#include "kquant/presets.h"

namespace kquant {
namespace {

std::string name_of(const PresetInfo* p) { return p ? std::string(p->name) : "(none)"; }

TEST(PresetFtype, ListingOrderMatchesLlamaQuantize) {
    const std::vector<std::string> want = {
        "Q1_0",   "Q2_0",   "Q4_0",   "Q4_1",   "MXFP4_MOE", "Q5_0",   "Q5_1",   "IQ2_XXS", "IQ2_XS", "IQ2_S",
        "IQ2_M",  "IQ1_S",  "IQ1_M",  "TQ1_0",  "TQ2_0",     "Q2_K",   "Q2_K_S", "IQ3_XXS", "IQ3_S",  "IQ3_M",
        "Q3_K",   "IQ3_XS", "Q3_K_S", "Q3_K_M", "Q3_K_L",    "IQ4_NL", "IQ4_XS", "Q4_K",    "Q4_K_S", "Q4_K_M",
        "Q5_K",   "Q5_K_S", "Q5_K_M", "Q6_K",   "Q8_0",      "F16",    "BF16",   "F32",     "COPY"};
    std::vector<std::string> got;
    for (const PresetInfo& p : presets()) got.emplace_back(p.name);
    EXPECT_EQ(got, want);
}

TEST(PresetFtype, NumbersAndDefaultTypesFollowTheTable) {
    struct Row {
        const char* name;
        uint32_t ftype;
        const char* type;
    };
    // §1.3, including the presets whose default type differs from their name.
    const Row rows[] = {
        {"F32", 0, "f32"},        {"F16", 1, "f16"},          {"Q4_0", 2, "q4_0"},     {"Q4_1", 3, "q4_1"},
        {"Q8_0", 7, "q8_0"},      {"Q5_0", 8, "q5_0"},        {"Q5_1", 9, "q5_1"},     {"Q2_K", 10, "q2_K"},
        {"Q3_K_S", 11, "q3_K"},   {"Q3_K_M", 12, "q3_K"},     {"Q3_K_L", 13, "q3_K"},  {"Q4_K_S", 14, "q4_K"},
        {"Q4_K_M", 15, "q4_K"},   {"Q5_K_S", 16, "q5_K"},     {"Q5_K_M", 17, "q5_K"},  {"Q6_K", 18, "q6_K"},
        {"IQ2_XXS", 19, "iq2_xxs"}, {"IQ2_XS", 20, "iq2_xs"}, {"Q2_K_S", 21, "q2_K"},  {"IQ3_XS", 22, "iq3_s"},
        {"IQ3_XXS", 23, "iq3_xxs"}, {"IQ1_S", 24, "iq1_s"},   {"IQ4_NL", 25, "iq4_nl"}, {"IQ3_S", 26, "iq3_s"},
        {"IQ3_M", 27, "iq3_s"},   {"IQ2_S", 28, "iq2_xs"},    {"IQ2_M", 29, "iq2_s"},  {"IQ4_XS", 30, "iq4_xs"},
        {"IQ1_M", 31, "iq1_m"},   {"BF16", 32, "bf16"},       {"TQ1_0", 36, "tq1_0"},  {"TQ2_0", 37, "tq2_0"},
        {"MXFP4_MOE", 38, "mxfp4"}, {"Q1_0", 40, "q1_0"},     {"Q2_0", 41, "q2_0"},
    };
    for (const Row& r : rows) {
        const PresetInfo& p = parse_preset(r.name);
        EXPECT_EQ(static_cast<uint32_t>(p.ftype), r.ftype) << r.name;
        EXPECT_EQ(type_info(p.default_type).name, r.type) << r.name;
        EXPECT_FALSE(p.only_copy) << r.name;
    }
    EXPECT_TRUE(parse_preset("COPY").only_copy);
    EXPECT_EQ(static_cast<uint32_t>(parse_preset("COPY").ftype), 0u);
}

TEST(PresetFtype, NamesAreCaseInsensitiveAndAliasesResolve) {
    EXPECT_EQ(name_of(find_preset("q4_k_m")), "Q4_K_M");
    EXPECT_EQ(name_of(find_preset("Q4_K")), "Q4_K");
    EXPECT_EQ(static_cast<uint32_t>(find_preset("q4_k")->ftype), 15u);  // alias of Q4_K_M
    EXPECT_EQ(static_cast<uint32_t>(find_preset("Q3_K")->ftype), 12u);
    EXPECT_EQ(static_cast<uint32_t>(find_preset("q5_K")->ftype), 17u);
    EXPECT_EQ(name_of(find_preset("iq4_nl")), "IQ4_NL");
    EXPECT_EQ(name_of(find_preset("copy")), "COPY");
    EXPECT_EQ(name_of(find_preset("bf16")), "BF16");
}

TEST(PresetFtype, NumbersPickTheFirstListedName) {
    EXPECT_EQ(name_of(find_preset("15")), "Q4_K");  // before Q4_K_M in the list
    EXPECT_EQ(name_of(find_preset("12")), "Q3_K");
    EXPECT_EQ(name_of(find_preset("17")), "Q5_K");
    EXPECT_EQ(name_of(find_preset("0")), "F32");  // COPY shares 0 but is listed after F32
    EXPECT_EQ(name_of(find_preset("7")), "Q8_0");
    EXPECT_EQ(name_of(find_preset("21abc")), "Q2_K_S");  // stoi ignores trailing junk
    EXPECT_EQ(name_of(find_preset(" 2")), "Q4_0");       // and leading white space
    EXPECT_EQ(name_of(preset_for_ftype(15)), "Q4_K");
}

TEST(PresetFtype, UnknownNamesAndNumbersAreRejected) {
    EXPECT_EQ(find_preset("4"), nullptr);    // removed ftype
    EXPECT_EQ(find_preset("39"), nullptr);   // NVFP4 has no CLI name
    EXPECT_EQ(find_preset("-1"), nullptr);
    EXPECT_EQ(find_preset("Q9_K"), nullptr);
    EXPECT_EQ(find_preset(""), nullptr);
    EXPECT_EQ(find_preset("99999999999"), nullptr);  // stoi would throw out_of_range
    try {
        parse_preset("Q9_K");
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("'Q9_K'"), std::string::npos) << msg;
        EXPECT_NE(msg.find("Q4_K_M"), std::string::npos) << msg;
        EXPECT_NE(msg.find("COPY"), std::string::npos) << msg;
    }
}

TEST(PresetFtype, SupportedPresetsAreTheOnesWithQuantizers) {
    for (const char* n : {"Q2_K", "Q2_K_S", "Q3_K_S", "Q3_K_M", "Q3_K", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q4_K",
                          "Q5_K_S", "Q5_K_M", "Q5_K", "Q6_K", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL",
                          "IQ4_XS", "F16", "BF16", "F32", "COPY"}) {
        EXPECT_TRUE(preset_supported(parse_preset(n))) << n;
        EXPECT_NO_THROW(require_supported(parse_preset(n))) << n;
    }
    // The others follow the quantizers this build has (PresetsLowBit.TargetTypesComeFromTheRules).
    if (preset_supported(parse_preset("IQ3_M"))) return;
    try {
        require_supported(parse_preset("IQ3_M"));
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("IQ3_M"), std::string::npos) << msg;
        EXPECT_NE(msg.find("iq3_s"), std::string::npos) << msg;
        EXPECT_NE(msg.find("supported: Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q2_K_S, Q3_K, Q3_K_S"), std::string::npos) << msg;
        EXPECT_EQ(msg.find("IQ2_XS,"), std::string::npos) << msg;
    }
}


// llama-quantize 0c1e5709's QUANT_OPTIONS, as its usage prints them: 39 entries (COPY included).
TEST(PresetFtype, QuantOptionsAsLlamaQuantizeListsThem) {
    struct Row {
        const char* name;
        uint32_t ftype;
        const char* note;
    };
    const Row rows[] = {
        {"Q1_0", 40, "1.125 bpw quantization"},          {"Q2_0", 41, "2.25 bpw quantization (group 64)"},
        {"Q4_0", 2, "4.34G, +0.4685 ppl @ Llama-3-8B"},  {"Q4_1", 3, "4.78G, +0.4511 ppl @ Llama-3-8B"},
        {"MXFP4_MOE", 38, "MXFP4 MoE"},                  {"Q5_0", 8, "5.21G, +0.1316 ppl @ Llama-3-8B"},
        {"Q5_1", 9, "5.65G, +0.1062 ppl @ Llama-3-8B"},  {"IQ2_XXS", 19, "2.06 bpw quantization"},
        {"IQ2_XS", 20, "2.31 bpw quantization"},         {"IQ2_S", 28, "2.5  bpw quantization"},
        {"IQ2_M", 29, "2.7  bpw quantization"},          {"IQ1_S", 24, "1.56 bpw quantization"},
        {"IQ1_M", 31, "1.75 bpw quantization"},          {"TQ1_0", 36, "1.69 bpw ternarization"},
        {"TQ2_0", 37, "2.06 bpw ternarization"},         {"Q2_K", 10, "2.96G, +3.5199 ppl @ Llama-3-8B"},
        {"Q2_K_S", 21, "2.96G, +3.1836 ppl @ Llama-3-8B"}, {"IQ3_XXS", 23, "3.06 bpw quantization"},
        {"IQ3_S", 26, "3.44 bpw quantization"},          {"IQ3_M", 27, "3.66 bpw quantization mix"},
        {"Q3_K", 12, "alias for Q3_K_M"},                {"IQ3_XS", 22, "3.3 bpw quantization"},
        {"Q3_K_S", 11, "3.41G, +1.6321 ppl @ Llama-3-8B"}, {"Q3_K_M", 12, "3.74G, +0.6569 ppl @ Llama-3-8B"},
        {"Q3_K_L", 13, "4.03G, +0.5562 ppl @ Llama-3-8B"}, {"IQ4_NL", 25, "4.50 bpw non-linear quantization"},
        {"IQ4_XS", 30, "4.25 bpw non-linear quantization"}, {"Q4_K", 15, "alias for Q4_K_M"},
        {"Q4_K_S", 14, "4.37G, +0.2689 ppl @ Llama-3-8B"}, {"Q4_K_M", 15, "4.58G, +0.1754 ppl @ Llama-3-8B"},
        {"Q5_K", 17, "alias for Q5_K_M"},                {"Q5_K_S", 16, "5.21G, +0.1049 ppl @ Llama-3-8B"},
        {"Q5_K_M", 17, "5.33G, +0.0569 ppl @ Llama-3-8B"}, {"Q6_K", 18, "6.14G, +0.0217 ppl @ Llama-3-8B"},
        {"Q8_0", 7, "7.96G, +0.0026 ppl @ Llama-3-8B"},  {"F16", 1, "14.00G, +0.0020 ppl @ Mistral-7B"},
        {"BF16", 32, "14.00G, -0.0050 ppl @ Mistral-7B"}, {"F32", 0, "26.00G              @ 7B"},
        {"COPY", 0, "only copy tensors, no quantizing"},
    };
    ASSERT_EQ(presets().size(), std::size(rows));
    for (size_t i = 0; i < std::size(rows); ++i) {
        const PresetInfo& p = presets()[i];
        EXPECT_EQ(p.name, rows[i].name);
        EXPECT_EQ(static_cast<uint32_t>(p.ftype), rows[i].ftype) << rows[i].name;
        EXPECT_EQ(p.description, rows[i].note) << rows[i].name;
    }
}

TEST(PresetFtype, ListTypesTableMarksWhatThisBuildProduces) {
    const std::string text = format_quant_options();
    std::vector<std::string> lines;
    for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
        lines.push_back(text.substr(at, nl - at));
    ASSERT_EQ(lines.size(), 1 + presets().size());  // a heading, then one line per option
    EXPECT_EQ(lines[1].substr(1), "  40  or  Q1_0      : 1.125 bpw quantization");
    EXPECT_EQ(lines[8].substr(1), "  19  or  IQ2_XXS   : 2.06 bpw quantization");
    EXPECT_EQ(lines.back().substr(1), "           COPY      : only copy tensors, no quantizing");
    for (size_t i = 0; i < presets().size(); ++i)
        EXPECT_EQ(lines[i + 1][0], preset_supported(presets()[i]) ? '*' : ' ') << presets()[i].name;
    EXPECT_EQ(lines.back()[0], '*');                           // COPY needs no quantizer
    EXPECT_EQ(lines[3], "*   2  or  Q4_0      : 4.34G, +0.4685 ppl @ Llama-3-8B");
}

}  // namespace
}  // namespace kquant
