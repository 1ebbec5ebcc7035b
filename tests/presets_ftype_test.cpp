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
    for (const char* n : {"IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M", "IQ3_XXS", "IQ3_XS", "IQ3_S",
                          "IQ3_M", "TQ1_0", "TQ2_0", "MXFP4_MOE", "Q1_0", "Q2_0"})
        EXPECT_FALSE(preset_supported(parse_preset(n))) << n;
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

}  // namespace
}  // namespace kquant
