#!/usr/bin/env python3
"""Build the static Stockpile seed files from the reference facts.

Writes categories.json, items.json, warehouses.json and network.geojson in this
directory. Deterministic (no randomness), Python 3 stdlib only. Every row carries
a `source`; "derived" and [FLAG] follow the conventions of
/work/shared/reference/README.md. See seed/README.md for the full list of
derivations. Run `python3 seed/build_static.py` then `python3 seed/generate_lots.py`
and `python3 seed/generate_lots.py --check`.
"""
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------------------
# Source strings (short, each with a page address / repo path from the reference)
# ---------------------------------------------------------------------------
R_CAT = "supplies-catalogue.md"
R_GEO = "gba-geography.md"
S_GBT = (f"{R_CAT} §1.1: GB/T 38565-2020 level-1 class "
         "(https://www.huanwenwen.com/article-55155.html; https://m.bzxz.net/en/1776bae790b4ee73.html)")
S_L2 = ("derived: project grouping under the real level-1 class; the standard's real level-2 codes "
        "are not in the reference [FLAG: invented level-2 code]")

S_MZT = f"{R_CAT} §2.1 MZ/T 011 tent series (https://bzpt.com/hb/102625.html; https://m.aqrzj.com/doc/335477.html)"
S_SHRC = f"{R_CAT} §2.1 Shanghai Red Cross catalogue 2021 (https://www.redcross-sha.org.cn/bzjh/View.aspx?id=547)"
S_GD22 = f"{R_CAT} §1.2/§2.1 GD provincial reserve 2022 list (https://daytonhigh.com/gdgrain/zwgk/dtxx/content/post_3952654.html; https://yuejiaxmz.com/news/view/827442)"
S_GD25 = f"{R_CAT} §2.1 GD 2025 Ragasa dispatch (http://gdgrain.gd.gov.cn/xwdt/sjdt/content/post_4778053.html)"
S_GX24 = f"{R_CAT} §2.1 Guangxi 2024 Yagi dispatch (http://gelux.com.cn/dictionary/27145498.html)"
S_CGD24 = f"{R_CAT} §2.1 central -> GD Apr 2024 (https://news.hebccw.cn/system/2024/04/22/101309938.shtml)"
S_GS23 = f"{R_CAT} §2.1 Gansu 2023 (https://m.news.shi-fen.com/china/202312/50-1552293.html)"
S_MCA14 = f"{R_CAT} §1.2 MCA central reserve 2014 (http://www.dnwgs.com.cn/plzhx/dlgc/201407/t20140722_6682566.htm)"
S_FLOOD = f"{R_CAT} §2.2 national flood-control dispatch 2013 (http://bhc.hebei.com.cn/system/2013/08/20/012941808.shtml)"
S_FLOOD22 = f"{R_CAT} §2.2 MEM flood/drought dispatch 2022-08-20 [FLAG: no page address]"
S_MED = f"{R_CAT} §2.3 Covid-19 supply lists (https://p2.ttnews.xyz/a/5e62ef4ddc9b5e479fe7812a?lang=zh-hant; http://m.05fc.cn/e/20200221/5e4f911bef62e.shtml)"
S_KIT = f"{R_CAT} §2.3 GD Health Commission household health kit 2020 (http://www.hotelvegas.cn/?a=show&c=index&id=1323)"
S_NOSHELF = "shelf life: none (durable; inspect/rotate) per supplies-catalogue.md §2.3 [FLAG: no authoritative figure]"
S_NOTREF = "[FLAG: item not in the reference; added to round out the category]"
S_ASSUMED_SHELF = "[FLAG: shelf life not sourced; project assumption]"
S_SPEC_ASSUMED = "[FLAG: spec not sourced; project assumption]"

SPH_WATER = ("Sphere 2011 water >= 15 L/person/day (supplies-catalogue.md §5; "
             "http://www.spherehandbook.org/en/water-supply-standard-1-access-and-water-quantity/) "
             "[FLAG: 2018 text not confirmed]")
SPH_SURV = ("Sphere 2011 survival water 2.5-3 L/person/day, 3 L used (supplies-catalogue.md §5; "
            "http://www.spherehandbook.org/en/water-supply-standard-1-access-and-water-quantity/)")
SPH_SPACE = ("Sphere 2011 covered space >= 3.5 m2/person (supplies-catalogue.md §5, §5.1; "
             "http://spherehandbook.org/en/shelter-and-settlement-standard-3-covered-living-space/)")
SPH_TOILET = ("Sphere 2018 communal toilets 1 per 50 first phase (supplies-catalogue.md §5; "
              "https://fliphtml5.com/ubejb/ujao/Sphere-Handbook-2018-EN/143)")
SPH_BED = ("Sphere-based: each person a blanket and a sleeping mat or raised bed; >= 1 full set of clothing "
           "(supplies-catalogue.md §5; https://www.design4disaster.org/2011/02/13/basic-equipment-and-supply/) [FLAG: secondary]")
SPH_HYG = ("Sphere 2011 hygiene items (supplies-catalogue.md §5; "
           "https://www.open.edu/openlearncreate/mod/oucontent/view.php?id=80580&section=6.3)")
SPH_CONT = ("Sphere 2011 >= 2 x 10-20 L water containers per household (supplies-catalogue.md §5; "
            "https://sarreplec.caib.es/pluginfile.php/14535/mod_imscp/content/1/clculo_de_las_necesidades_de_agua.html); "
            "household = 3.0 persons [FLAG: assumption, supplies-catalogue.md §5.1]")

# ---------------------------------------------------------------------------
# 1. Categories
# ---------------------------------------------------------------------------
CATEGORIES = [
    ("1", None, "基本生活保障物资", "basic living supplies", S_GBT),
    ("2", None, "应急装备及配套物资", "emergency equipment and supporting supplies", S_GBT),
    ("3", None, "工程材料与机械加工设备", "engineering materials and machinery", S_GBT),
    ("99", None, "其他", "other", S_GBT + " (no Chinese name given in the reference; '其他' = 'other')"),
    ("1-01", "1", "帐篷与被服", "shelter and bedding", S_L2),
    ("1-02", "1", "饮用水与食品", "water and food", S_L2),
    ("1-03", "1", "衣物与个人卫生", "clothing, family kits and hygiene", S_L2),
    ("2-01", "2", "防汛抢险与水上救生", "flood-fighting and water rescue equipment", S_L2),
    ("2-02", "2", "医疗与防疫物资", "medical and epidemic supplies",
     S_L2 + " [FLAG: placing medical items under class 2 is a project choice]"),
    ("2-03", "2", "电力与照明", "power and lighting", S_L2),
    ("3-01", "3", "防汛工程材料", "flood-control engineering materials", S_L2),
]

# ---------------------------------------------------------------------------
# 2. Items
# ---------------------------------------------------------------------------
# need_norm helpers
def norm(qty, per_persons, per_days, basis):
    return {"qty": qty, "per_persons": per_persons, "per_days": per_days, "basis": basis}

def tent_norm(m2):
    # tents = population * 3.5 / m2 ; expressed as qty per_persons (integers)
    num, den = 7, 2 * m2  # 3.5/m2 = 7/(2 m2)
    g = math.gcd(num, den)
    return norm(num // g, den // g, None,
                f"{SPH_SPACE}; derived: {m2} m2 / 3.5 m2 = {m2/3.5:.2f} persons per tent")

N_TENT12 = norm(10, 34, None, SPH_SPACE + "; 3.4 persons per 12 m2 tent as in the §5.1 worked example (2,917 tents per 10,000)")

# (sku, zh, en, cat, unit_zh, unit_en, spec, gtin?, shelf_days, storage, need, source)
ITEMS = [
    # --- 1-01 shelter and bedding
    ("TENT-12M2-SGL", "救灾帐篷(单帐篷)12平方米", "relief tent, single, 12 m2", "1-01", "顶", "tent",
     "MZ/T 011.2-2010, 12 m2, 3.7 m x 3.2 m", True, None, "ambient", N_TENT12,
     f"{S_MZT}; Guangxi 2024: 200 x 12 m2 single tents ({S_GX24}); {S_NOSHELF}"),
    ("TENT-12M2-CTN", "救灾棉帐篷12平方米", "relief tent, cotton (winter), 12 m2", "1-01", "顶", "tent",
     "MZ/T 011 series, 12 m2 cotton tent", True, None, "ambient", N_TENT12,
     f"{S_MZT}; central: 2,000 x 12 m2 cotton tents ({S_GS23}); {S_NOSHELF}"),
    ("TENT-8M2-SGL", "救灾帐篷(单帐篷)8平方米", "relief tent, single, 8 m2", "1-01", "顶", "tent",
     "MZ/T 011 series, 8 m2 single tent", False, None, "ambient", tent_norm(8), f"{S_MZT}; {S_NOSHELF}"),
    ("TENT-36M2-SGL", "救灾帐篷(单帐篷)36平方米", "relief tent, single, 36 m2", "1-01", "顶", "tent",
     "MZ/T 011 series, 36 m2 single tent", True, None, "ambient", tent_norm(36), f"{S_MZT}; {S_NOSHELF}"),
    ("TENT-36M2-CTN", "救灾棉帐篷36平方米", "relief tent, cotton (winter), 36 m2", "1-01", "顶", "tent",
     "MZ/T 011 series, 36 m2 cotton tent", False, None, "ambient", tent_norm(36), f"{S_MZT}; {S_NOSHELF}"),
    ("TENT-TOILET", "救灾厕所帐篷", "relief toilet tent", "1-01", "顶", "tent",
     "MZ/T 011 series, toilet tent", False, None, "ambient",
     norm(1, 50, None, SPH_TOILET + "; derived: one toilet tent per communal toilet [FLAG: assumption]"),
     f"{S_MZT}; {S_NOSHELF}"),
    ("TENT-COATED", "救灾帐篷(涂层布)", "relief tent, coated fabric", "1-01", "顶", "tent",
     "MZ/T 011 series, coated-fabric tent", False, None, "ambient", None, f"{S_MZT}; {S_NOSHELF}"),
    ("QUILT-COTTON", "棉被", "cotton quilt", "1-01", "床", "quilt",
     "2 m x 1.8 m, vacuum packed", True, None, "ambient", None,
     f"{S_SHRC}; central Covid 2020: 5.8万; Gansu 2023: 1万 ({S_GS23}); shelf life: none [FLAG: not sourced]"),
    ("QUILT-TOWEL", "毛巾被", "towel quilt", "1-01", "床", "quilt",
     "southern-climate summer quilt", True, None, "ambient", None,
     f"{S_MCA14}; GD 2022: 5,000; GD 2025: 2,000 ({S_GD25}); central -> GD 2024: 6,000 ({S_CGD24}); shelf life: none [FLAG]"),
    ("QUILT-COOL", "清凉被", "cool quilt", "1-01", "条", "quilt",
     "southern-climate summer quilt", False, None, "ambient", None,
     f"{S_GD22}; GD 2022: 1,100; shelf life: none [FLAG]"),
    ("BLANKET-WOOL", "毛毯", "blanket, 30% wool", "1-01", "床", "blanket",
     "2 m x 1.5 m, 2 kg, 30% wool", True, None, "ambient",
     norm(1, 1, None, SPH_BED + "; one blanket per person"),
     f"{S_SHRC}; GD 2022: 1,500 ({S_GD22}); shelf life: none [FLAG]"),
    ("BED-FOLDING", "折叠床", "folding bed, single", "1-01", "张", "bed",
     "single", True, None, "ambient", None,
     f"{S_GD22}; GD 2022: 6,300; central -> GD 2024: 6,000 ({S_CGD24}); {S_NOSHELF} "
     "(need_norm null: Sphere gives mat OR raised bed; the norm is carried by MAT-MOISTURE)"),
    ("MAT-MOISTURE", "防潮垫", "moisture-proof sleeping mat", "1-01", "张", "mat",
     None, False, None, "ambient", norm(1, 1, None, SPH_BED + "; one sleeping mat (or raised bed) per person"),
     f"{S_GD25}; GD 2025: 1,000; Gansu 2023: 15,000 ({S_GS23}); shelf life: none [FLAG]"),
    ("SLEEPING-BAG", "睡袋", "sleeping bag", "1-01", "个", "sleeping bag",
     None, False, None, "ambient", None, f"{S_MCA14} (sleeping bags in the central reserve); shelf life: none [FLAG]"),
    ("MOSQUITO-NET", "蚊帐", "mosquito net", "1-01", "顶", "net",
     None, False, None, "ambient", None, f"{S_GX24}; Guangxi 2024: 2,000; shelf life: none [FLAG]"),
    ("TABLE-STOOL-SET", "折叠桌凳", "folding table and stool set", "1-01", "套", "set",
     None, False, None, "ambient", None, f"{S_GX24}; Guangxi 2024: 800; {S_NOSHELF}"),
    # --- 1-03 clothing, kits, hygiene
    ("COAT-COTTON", "棉大衣", "cotton-padded coat", "1-03", "件", "coat",
     None, True, None, "ambient", None, f"{S_MCA14}; central Covid 2020: 6万 coats ({R_CAT} §2.1); shelf life: none [FLAG]"),
    ("JACKET", "夹克衫", "jacket", "1-03", "件", "jacket",
     None, False, None, "ambient", None, f"{S_SHRC} (jackets 500); {S_MCA14}; shelf life: none [FLAG]"),
    ("CLOTHES-SET", "救灾衣服(套)", "relief clothing set", "1-03", "套", "set",
     None, False, None, "ambient", norm(1, 1, None, SPH_BED + "; one full set of clothing per person"),
     f"{S_GD22}; GD 2022: 2,000 clothes; shelf life: none [FLAG]"),
    ("RAINCOAT", "雨衣", "raincoat", "1-03", "件", "raincoat",
     None, True, None, "ambient", None, f"{S_GD22}; shelf life: none [FLAG]"),
    ("KIT-FAMILY", "家庭应急包", "family emergency kit", "1-03", "个", "kit",
     "Red Cross kit, 17 item types", True, 1095, "ambient", None,
     f"{S_CGD24}; central -> GD 2024: 3,000; Shanghai RC 1,000 ({S_SHRC}); "
     f"shelf life 3 y because kits contain consumables {S_ASSUMED_SHELF}"),
    ("WATER-CONT-20L", "折叠储水桶20升", "collapsible water container, 20 L", "1-03", "个", "container",
     "20 L, collapsible", False, None, "ambient", norm(2, 3, None, SPH_CONT),
     f"{R_CAT} §5 Sphere water-container figure; {S_NOTREF} (not on a dispatch list); shelf life: none"),
    ("SOAP-BATH", "香皂125克", "bathing soap, 125 g bar", "1-03", "块", "bar",
     "125 g bar", True, 1095, "ambient",
     norm(2, 1, 30, SPH_HYG + ": bathing soap 250 g/person/month; derived: 2 x 125 g bars"),
     f"{R_CAT} §5; {S_NOTREF}; {S_SPEC_ASSUMED}; {S_ASSUMED_SHELF}"),
    ("SOAP-LAUNDRY", "洗衣皂200克", "laundry soap, 200 g bar", "1-03", "块", "bar",
     "200 g bar", False, 1095, "ambient",
     norm(1, 1, 30, SPH_HYG + ": laundry soap 200 g/person/month; derived: 1 x 200 g bar"),
     f"{R_CAT} §5; {S_NOTREF}; {S_SPEC_ASSUMED}; {S_ASSUMED_SHELF}"),
    ("TOOTHPASTE-100G", "牙膏100克", "toothpaste, 100 g tube", "1-03", "支", "tube",
     "100 g tube", True, 1095, "ambient",
     norm(1, 1, 30, SPH_BED.split(';')[0] + "; toothpaste 100 g/person/month (design4disaster summary) [FLAG: secondary]"),
     f"{R_CAT} §5; {S_NOTREF}; {S_SPEC_ASSUMED}; {S_ASSUMED_SHELF}"),
    # --- 1-02 water and food
    ("WATER-5L", "瓶装饮用水5升", "bottled drinking water, 5 L", "1-02", "瓶", "bottle",
     "5 L PET bottle", True, 365, "ambient", norm(3, 1, 1, SPH_WATER + "; derived: 15 L = 3 x 5 L bottles per person-day"),
     f"{S_GD25} (bottled water 矿泉水 dispatched by the case); {S_SPEC_ASSUMED}; "
     f"shelf life 12 months per commercial label [FLAG: not established, supplies-catalogue.md §2.1]"),
    ("WATER-CASE-550", "矿泉水(箱)", "bottled mineral water, case", "1-02", "箱", "case",
     "24 x 550 ml", True, 365, "ambient",
     norm(10, 44, 1, SPH_SURV + "; derived: case = 13.2 L, 3 L/13.2 L = 10/44 case per person-day"),
     f"{S_GD25}: 160 cases each to Zhuhai and Jiangmen; {S_SPEC_ASSUMED}; shelf life 12 months [FLAG: not established]"),
    ("NOODLES-CASE", "方便面(箱)", "instant noodles, case", "1-02", "箱", "case",
     "24 packs", True, 180, "ambient", None,
     f"{S_GD25}: 160 cases each to Zhuhai and Jiangmen; {S_SPEC_ASSUMED}; shelf life 6 months [FLAG: not established]"),
    ("CONGEE-CASE", "八宝粥(箱)", "mixed congee, case", "1-02", "箱", "case",
     "12 cans x 360 g", True, 730, "ambient", None,
     f"{S_GD25}: 160 cases each to Zhuhai and Jiangmen; {S_SPEC_ASSUMED}; shelf life 24 months [FLAG: not established]"),
    ("BISCUIT-COMP", "压缩饼干(箱)", "compressed biscuits, case", "1-02", "箱", "case",
     "20 packs", False, 730, "ambient", None,
     f"{S_NOTREF}; {S_SPEC_ASSUMED}; {S_ASSUMED_SHELF}"),
    ("RICE-10KG", "大米10公斤", "rice, 10 kg bag", "1-02", "袋", "bag",
     "10 kg", False, 365, "ambient", None,
     f"{S_NOTREF}; {S_SPEC_ASSUMED}; {S_ASSUMED_SHELF} (no kcal-based norm: kcal per item not sourced)"),
    ("WATER-PURIFIER", "净水机", "water purifier unit", "1-02", "台", "unit",
     None, False, None, "ambient", None, f"{S_GD22} (water purifiers); shelf life: none"),
    ("WATER-PURIF-TAB", "净水片", "water purification tablets", "1-02", "瓶", "bottle",
     "bottle of 100 tablets", False, 1095, "ambient", None,
     f"{S_NOTREF}; {S_SPEC_ASSUMED}; {S_ASSUMED_SHELF}"),
    # --- 2-01 flood-fighting and water rescue
    ("TENT-FLOOD", "防汛帐篷", "flood-fighting tent", "2-01", "顶", "tent",
     None, False, None, "ambient", None, f"{S_FLOOD}: 200 (2013); {S_NOSHELF}"),
    ("BOAT-ASSAULT", "冲锋舟", "assault boat", "2-01", "艘", "boat",
     None, False, None, "ambient", None, f"{S_FLOOD}: 60 + 20 boats (2013); {S_NOSHELF}"),
    ("BOAT-RUBBER", "橡皮舟", "rubber boat", "2-01", "只", "boat",
     None, False, None, "ambient", None, f"{S_FLOOD}; {S_NOSHELF}"),
    ("BOAT-RESCUE", "抢险舟", "rescue boat", "2-01", "艘", "boat",
     None, False, None, "ambient", None, f"{S_FLOOD}; {S_NOSHELF}"),
    ("OUTBOARD-MOTOR", "船外机", "outboard motor", "2-01", "台", "motor",
     None, False, None, "ambient", None, f"{S_FLOOD}: 80 (2013); shelf life: none"),
    ("LIFE-JACKET", "救生衣", "life jacket", "2-01", "件", "life jacket",
     None, True, None, "ambient", None,
     f"{S_FLOOD}: 49,400 (2013); {S_FLOOD22}: 3,000; Guangxi 2024: 1,000 ({S_GX24}); {S_NOSHELF}"),
    ("LIFEBUOY", "救生圈", "lifebuoy", "2-01", "个", "lifebuoy",
     None, False, None, "ambient", None, f"{S_NOTREF}; shelf life: none"),
    ("PUMP-DIESEL-400", "柴动直联泵400立方米每小时", "diesel direct-coupled pump, 400 m3/h", "2-01", "台", "pump",
     "400 m3/h", False, None, "ambient", None, f"{S_FLOOD}: 30 (2013); shelf life: none"),
    ("PUMP-DIESEL-850", "柴动直联泵850立方米每小时", "diesel pump, 850 m3/h", "2-01", "台", "pump",
     "850 m3/h", False, None, "ambient", None, f"{S_FLOOD}: 20 (2013); shelf life: none"),
    ("PUMP-SUBMERSIBLE", "潜水泵", "submersible drainage pump", "2-01", "台", "pump",
     None, True, None, "ambient", None, f"{S_FLOOD22}: 170 pumps (2022, type not stated); {S_NOTREF} (type); shelf life: none"),
    ("THROW-LINE", "救生绳索抛射器", "rescue throw-line launcher", "2-01", "套", "set",
     None, False, None, "ambient", None, f"{R_CAT} §2.2 (50 units; http://cncmrn.com/channels/news/20120725/1209706.html); shelf life: none"),
    ("RAIN-BOOTS", "防汛雨靴", "rubber rain boots", "2-01", "双", "pair",
     None, True, None, "ambient", None, f"{S_NOTREF}; shelf life: none"),
    # --- 3-01 flood-control engineering materials
    ("WOVEN-BAG", "编织袋", "woven bag (sandbag)", "3-01", "条", "bag",
     None, True, None, "ambient", None, f"{S_FLOOD}: 796万 (2013); 50万 to Xinjiang 2022 ({S_FLOOD22}); shelf life: none [FLAG: UV ageing not modelled]"),
    ("LAMINATED-CLOTH", "复膜编织布", "laminated woven cloth", "3-01", "平方米", "m2",
     None, False, None, "ambient", None, f"{S_FLOOD}: 384万 m2 (2013); shelf life: none"),
    ("GEOTEXTILE", "土工布", "geotextile", "3-01", "平方米", "m2",
     None, False, None, "ambient", None, f"{S_FLOOD}: 38万 m2 (2013); shelf life: none"),
    ("GABION-BAG", "钢丝网兜", "steel-wire gabion bag", "3-01", "个", "gabion bag",
     None, False, None, "ambient", None, f"{S_FLOOD}: 3,000; shelf life: none"),
    ("LEAD-WIRE-MESH", "铅丝网片", "lead-wire mesh panel", "3-01", "片", "panel",
     None, False, None, "ambient", None, f"{S_FLOOD}: 5,000; shelf life: none"),
    # --- 2-02 medical and epidemic
    ("MASK-MEDICAL", "一次性使用医用口罩", "disposable medical mask", "2-02", "只", "mask",
     None, True, 730, "ambient", None,
     f"{R_CAT} §2.3 (https://haocat.cn/shenghuo/news196864.html): 2-3 years, 2 y used [FLAG: secondary]"),
    ("MASK-SURGICAL", "医用外科口罩", "surgical mask", "2-02", "只", "mask",
     None, True, 1095, "ambient", None,
     f"{R_CAT} §2.3 (http://www.p8257.cn/article/ORVZ8kXvZo3mKyz5.html): 3 years [FLAG: secondary]; Shanghai RC 5,000 ({S_SHRC})"),
    ("MASK-N95", "医用防护口罩(KN95级)", "medical protective mask, N95/KN95 class", "2-02", "只", "mask",
     None, True, 1825, "ambient", None,
     f"{R_CAT} §2.3 (http://m.521jk.cn/?a=show&c=index&id=2224): ~5 years, manufacturer-dependent [FLAG]"),
    ("SUIT-PROTECTIVE", "医用一次性防护服", "medical protective suit", "2-02", "件", "suit",
     None, True, 730, "ambient", None,
     f"{R_CAT} §2.3 (http://xpjbcw.com/article.php?id=3436): 2-5 years, lower bound used [FLAG]"),
    ("TEST-ANTIGEN", "新冠病毒抗原检测试剂", "COVID-19 antigen test", "2-02", "人份", "test",
     "store 2-30 °C, dry, dark; never freeze", True, 365, "ambient", None,
     f"{R_CAT} §2.3 (http://www.xyxy.net/ar/21b306128.html; https://tcms.fh21.com.cn/view/7278134.html): "
     "6-24 months, 12 used; 2-30 °C so storage_class ambient, not cool"),
    ("GOGGLES", "医用护目镜", "medical goggles", "2-02", "副", "pair",
     None, False, None, "ambient", None, f"{S_MED}; shelf life: none [FLAG: not sourced]"),
    ("FACE-SHIELD", "防护面屏", "face shield", "2-02", "个", "face shield",
     None, False, None, "ambient", None, f"{S_MED}; shelf life: none [FLAG: not sourced]"),
    ("GOWN-ISOLATION", "一次性隔离衣", "isolation gown", "2-02", "件", "gown",
     None, True, 730, "ambient", None, f"{S_MED}; {S_ASSUMED_SHELF}"),
    ("GLOVES-EXAM", "一次性医用检查手套", "medical examination gloves", "2-02", "双", "pair",
     None, True, 1095, "ambient", None, f"{S_MED}; {S_KIT}; {S_ASSUMED_SHELF}"),
    ("DISINFECTANT-500", "含氯消毒液500毫升", "chlorine disinfectant, 500 ml", "2-02", "瓶", "bottle",
     "500 ml", True, 365, "ambient", None, f"{S_MED}; {S_SPEC_ASSUMED}; {S_ASSUMED_SHELF}"),
    ("THERMOMETER-IR", "红外体温计", "infrared thermometer", "2-02", "个", "thermometer",
     None, False, None, "ambient", None, f"{S_MED}; {S_KIT}; shelf life: none"),
    ("VENTILATOR", "呼吸机", "ventilator", "2-02", "台", "ventilator",
     None, False, None, "ambient", None, f"{S_MED}: Hubei 9,473 by 19 Feb 2020; shelf life: none (maintenance not modelled)"),
    ("MONITOR-PATIENT", "多参数监护仪", "patient monitor", "2-02", "台", "monitor",
     None, False, None, "ambient", None, f"{S_MED}; shelf life: none"),
    ("GAUZE-STERILE", "医用无菌纱布", "sterile gauze", "2-02", "包", "pack",
     None, True, 1095, "ambient", None, f"{S_KIT}; {S_ASSUMED_SHELF}"),
    ("BANDAGE-TRI", "三角巾", "triangular bandage", "2-02", "条", "bandage",
     None, False, 1095, "ambient", None, f"{S_KIT}; {S_ASSUMED_SHELF}"),
    ("IBUPROFEN", "布洛芬缓释胶囊", "ibuprofen SR capsules", "2-02", "盒", "box",
     "0.3 g x 20", True, 730, "ambient", None,
     f"{R_CAT} §2.3 common medicines 24-36 months, 24 used [FLAG: not sourced]; {S_SPEC_ASSUMED}"),
    ("PARACETAMOL", "对乙酰氨基酚片", "paracetamol tablets", "2-02", "盒", "box",
     "0.5 g x 20", False, 730, "ambient", None,
     f"{R_CAT} §2.3 common medicines 24-36 months, 24 used [FLAG: not sourced]; {S_SPEC_ASSUMED}"),
    ("ORS-III", "口服补液盐III", "oral rehydration salts III", "2-02", "盒", "box",
     "5.125 g x 6 sachets", True, 730, "ambient", None,
     f"{R_CAT} §2.3 common medicines (ORS) 24-36 months, 24 used [FLAG: not sourced]; {S_SPEC_ASSUMED}"),
    ("VACCINE-TETANUS", "吸附破伤风疫苗", "adsorbed tetanus vaccine", "2-02", "支", "dose",
     "0.5 ml single dose; 2-8 °C cold chain", False, 730, "cool", None,
     f"{S_NOTREF}; 2-8 °C cold chain and 24-month shelf life are general knowledge [FLAG: not in reference]; "
     "added so that the cool storage class is exercised"),
    ("VACCINE-RABIES", "人用狂犬病疫苗", "rabies vaccine (human)", "2-02", "支", "dose",
     "single dose; 2-8 °C cold chain", False, 730, "cool", None,
     f"{S_NOTREF}; 2-8 °C cold chain and shelf life are general knowledge [FLAG: not in reference]"),
    # --- 2-03 power and lighting
    ("GENSET-50KW", "发电机组50千瓦", "generator set, 50 kW", "2-03", "台", "generator",
     "50 kW diesel", False, None, "ambient", None, f"{S_FLOOD}: 10 (2013); shelf life: none"),
    ("GENSET-PETROL", "汽油发电机", "portable petrol generator", "2-03", "台", "generator",
     None, True, None, "ambient", None, f"{S_FLOOD22}: 130 petrol + 100 diesel gensets (2022); {S_GD22}; shelf life: none"),
    ("GENSET-DIESEL", "柴油发电机", "portable diesel generator", "2-03", "台", "generator",
     None, False, None, "ambient", None, f"{S_FLOOD22}: 100 diesel gensets (2022); shelf life: none"),
    ("LIGHT-TOWER", "移动照明灯塔", "mobile light tower", "2-03", "台", "light tower",
     None, False, None, "ambient", None, f"{S_GD25}: 10; Gansu 2023: 30 ({S_GS23}); shelf life: none"),
    ("SITE-LIGHT", "场地照明灯", "site lighting set", "2-03", "台", "light",
     None, False, None, "ambient", None, f"{S_MCA14}; shelf life: none"),
    ("TORCH-EXPROOF", "强光防爆手电", "explosion-proof high-intensity torch", "2-03", "个", "torch",
     None, True, None, "ambient", None, f"{S_GD25}: 400; shelf life: none [FLAG: battery ageing not modelled]"),
    ("FLASHLIGHT", "手电筒", "flashlight", "2-03", "个", "flashlight",
     None, True, None, "ambient", None, f"{S_GX24}: 2,000; shelf life: none [FLAG: battery ageing not modelled]"),
    ("LAMP-HANDCRANK", "手摇灯", "hand-crank lamp", "2-03", "个", "lamp",
     None, False, None, "ambient", None, f"{S_GD22}; shelf life: none"),
    ("LAMP-EMERGENCY", "应急灯", "emergency lamp", "2-03", "个", "lamp",
     None, True, None, "ambient", None, f"{S_GX24}: 1,000 emergency lamps; shelf life: none"),
    ("LAMP-INSPECT", "查险灯", "levee-inspection lamp", "2-03", "只", "lamp",
     None, False, None, "ambient", None, f"{S_FLOOD}: 300; shelf life: none"),
    ("SPOTLIGHT-SEARCH", "强光搜索灯", "high-intensity search spotlight", "2-03", "盏", "spotlight",
     None, False, None, "ambient", None, f"{S_FLOOD}: 100; shelf life: none"),
]


def gtin_check(body):
    s = 0
    for i, ch in enumerate(reversed(body)):
        s += int(ch) * (3 if i % 2 == 0 else 1)
    return str((10 - s % 10) % 10)


def make_gtin(n):
    # Invented GTIN-13 under a fictitious GS1-China-style company prefix 6975301
    # (690-699 = GS1 China range). NOT registered; demo only. GTIN-14 = '0' + GTIN-13.
    body12 = "6975301" + f"{n:05d}"
    return "0" + body12 + gtin_check(body12)


def expiry_windows(shelf):
    """Project rule (derived, [FLAG: assumption]): min remaining = 1/6 of shelf life
    (>= 30 d), alert window = 1/4 of shelf life (>= 45 d)."""
    if shelf is None:
        return 0, 0
    return max(30, shelf // 6), max(45, shelf // 4)


EXTRA_GTIN = {"QUILT-COOL", "MAT-MOISTURE", "SLEEPING-BAG", "BISCUIT-COMP", "GENSET-DIESEL"}


def build_items():
    out = []
    seen = set()
    n = 0
    for (sku, zh, en, cat, uzh, uen, spec, has_gtin, shelf, storage, need, src) in ITEMS:
        assert sku not in seen, sku
        seen.add(sku)
        gtin = None
        if has_gtin or sku in EXTRA_GTIN:
            n += 1
            gtin = make_gtin(1000 + n * 7)
        mr, al = expiry_windows(shelf)
        out.append({
            "sku": sku, "name_zh": zh, "name_en": en, "category_code": cat,
            "unit_zh": uzh, "unit_en": uen, "spec": spec, "gtin": gtin,
            "shelf_life_days": shelf, "min_remaining_days": mr, "alert_days": al,
            "storage_class": storage, "need_norm": need,
            "source": src + ("; GTIN invented (fictitious 690-699-range prefix 6975301) [FLAG]" if gtin else ""),
        })
    return out

# ---------------------------------------------------------------------------
# 3. Nodes (lon, lat) and warehouses
# ---------------------------------------------------------------------------
S_SEAT = f"{R_GEO} §2 city seat (xiaolidan00/my-three:mapJson.js, GCJ-02 -> WGS84 via googollee/eviltransform)"
S_SEAT_HK = f"{R_GEO} §2 HK Central (https://2ua.org/chn/hong_kong/map; Google Maps, WGS84)"
S_SEAT_MO = f"{R_GEO} §2 Macau peninsula (jeecgboot/jeecg:.../RepairDao_batchRepairTerritory.sql row 27, WGS84)"
S_DIST = f"{R_GEO} §3 district seat (xiaolidan00/my-three:mapJson.js, GCJ-02 -> WGS84)"
S_ANCH = f"{R_GEO} §4 anchor"
S_DER = "derived: approximate junction/vertex placed from the places the reference names [FLAG: not surveyed, ~1-10 km uncertainty]"

# name: (lon, lat, source)
NODES = {
    "GZ": (113.2592, 23.1327, S_SEAT), "SZ": (114.0528, 22.5463, S_SEAT),
    "ZH": (113.5718, 22.2747, S_SEAT), "FS": (113.1161, 23.0239, S_SEAT),
    "HZ": (114.4106, 23.1149, S_SEAT), "DG": (113.7467, 23.0237, S_SEAT),
    "ZS": (113.3870, 22.5197, S_SEAT), "JM": (113.0761, 22.5816, S_SEAT),
    "ZQ": (112.4600, 23.0504, S_SEAT), "HK": (114.1586, 22.2783, S_SEAT_HK),
    "MO": (113.5439, 22.1987, S_SEAT_MO),
    "PJ": (113.0735, 22.5980, S_DIST), "JH": (113.1056, 22.5640, S_DIST),
    "XH": (113.0291, 22.4613, S_DIST + " [FLAG: two Amap snapshots 6.9 km apart]"),
    "TS": (112.7887, 22.2548, S_DIST), "KP": (112.6930, 22.3803, S_DIST),
    "HS": (112.9591, 22.7689, S_DIST), "EP": (112.2998, 22.1865, S_DIST),
    "NANSHA": (113.5200, 22.8043, S_ANCH + " Nansha district seat (xiaolidan00/my-three:mapJson.js)"),
    "HUMEN": (113.8051, 22.8543, S_ANCH + " Humen town (xiaolidan00/my-three:mapJson.js)"),
    "NANLANG": (113.4814, 22.5286, S_ANCH + " Nanlang subdistrict (xiaolidan00/my-three:mapJson.js)"),
    "DOUMEN": (113.2909, 22.2119, S_ANCH + " Doumen district (xiaolidan00/my-three:mapJson.js)"),
    "JINWAN": (113.3578, 22.1494, S_ANCH + " Jinwan district (xiaolidan00/my-three:mapJson.js)"),
    "VHHH": (113.9150, 22.3089, S_ANCH + " HK airport (jpatokal/openflights:data/airports.dat row 3077)"),
    "VMMC": (113.5920, 22.1496, S_ANCH + " Macau airport (jpatokal/openflights:data/airports.dat row 3121)"),
    "ZGSZ": (113.8110, 22.6393, S_ANCH + " Shenzhen airport (jpatokal/openflights:data/airports.dat row 3374)"),
    "HZMB_ZHP": (113.5737, 22.2071, S_ANCH + " HZMB Zhuhai port [FLAG: unattributed dataset]"),
    "PINGSHA": (113.1890, 22.1140, S_ANCH + " Huangmaohai Link east end, Pingsha [FLAG: datum unknown]"),
    # derived nodes
    "MAAN": (113.5788, 22.5286, "derived: Ma'an Island = Nanlang + 10 km east (gba-geography.md §4 says Nanlang is ~10 km W) [FLAG]"),
    "GANGKOU": (113.3400, 22.5850, S_DER + " (Xinlong, Gangkou: Zhongjiang meets Guangzhu East, §8)"),
    "XIAOLAN": (113.2500, 22.6700, S_DER + " (Xiaolan, Zhongshan on the Guangzhongjiang Expy, §8)"),
    "YAYAO": (113.0300, 22.7300, S_DER + " (Chicao, Yayao, Heshan: Guangzhongjiang joins Fokai, §8)"),
    "SHUIKOU": (112.7500, 22.4000, S_DER + " (Shuikou, Kaiping: Fokai joins Kaiyang, §8)"),
    "DAAO": (113.2000, 22.4200, S_DER + " (Da'ao exit, Xinhui, Zhongkai Expy, §7/§8)"),
    "MUZHOU": (113.1400, 22.3950, S_DER + " (Muzhou, Xinhui: Jiangzhu and Zhongkai, §8)"),
    "SHUANGSHUI": (112.9700, 22.4000, S_DER + " (Shuangshui, Xinhui, Zhongkai Expy / Western Coastal, §8)"),
    "KY_ZK": (112.5500, 22.3000, S_DER + " (Zhongkai Expy joins the Kaiyang Expy, Kaiping/Enping, §8)"),
    "HEZHOU": (113.4700, 22.2450, S_DER + " (Jiangzhu Expy meets Zhuhai Avenue at Hezhou North, §8)"),
    "DOUSHAN": (112.9300, 22.0400, S_DER + " (Doushan town, Taishan: Huangmaohai Link west end; no coordinate in reference, §4)"),
    "NSB_W": (113.5000, 22.8750, S_DER + " (Nansha Bridge west abutment, Nansha)"),
    "SHATIAN": (113.6150, 22.9050, S_DER + " (Nansha Bridge east end, Shatian, Dongguan, §7)"),
    "HB_W": (113.5750, 22.7850, S_DER + " (Humen Bridge west end, Nansha side)"),
    "HB_E": (113.6700, 22.8100, S_DER + " (Humen Bridge east approach, Taiping/Humen)"),
    "GH_DG": (113.7500, 23.1100, S_DER + " (Guanghui Expy interchange north of Dongguan)"),
    "HUANGGANG": (114.0700, 22.5300, S_DER + " (Huanggang port, Futian, Shenzhen)"),
    "HK_LMC": (114.0700, 22.5130, S_DER + " (Lok Ma Chau control point, HK)"),
    "HK_KWAICHUNG": (114.1300, 22.3600, S_DER + " (Kwai Tsing, HK: container terminal area named in §7)"),
    "HZMB_HKP": (113.9400, 22.3200, S_DER + " (HZMB Hong Kong Port island next to VHHH, §4)"),
    "GONGBEI": (113.5500, 22.2160, S_DER + " (Gongbei port, Zhuhai / Border Gate, Macau)"),
    "HENGQIN": (113.5500, 22.1400, S_DER + " (Hengqin port, Zhuhai)"),
}

# Warehouses: (code, zh, en, anchor node, dlat, dlon, city, district, tier, handling, capacity, note)
WAREHOUSES = [
    ("JM-JH-RC", "粤港澳大湾区应急物资储备中心", "GBA Emergency Supplies Reserve Centre", "JH", 0, 0,
     "Jiangmen", "Jianghai", "regional_centre", 90, 10.0,
     f"{R_GEO} §4/§5 reserve-centre placeholder = Jianghai district seat [FLAG: actual site unknown]; "
     "https://www.breakinglatest.news/news/jiangmen-city-safety-emergency-industrial-park-project-centralized-signing-and-construction-activities-held-14-projects-with-a-total-investment-of-55-5-billion-yuan_department-news_jiangmen-municipal/; "
     "handling 90 min and capacity_factor 10 are project assumptions [FLAG]"),
    ("JM-JH-TS", "江门市(江海)应急物资中转接驳站", "Jiangmen (Jianghai) emergency-supplies transfer station", "JH", 0.012, 0.015,
     "Jiangmen", "Jianghai", "district", 30, 0.5,
     f"{R_GEO} §5 (http://www.jianghai.gov.cn/bwbj/fgtjj/gzdt/content/post_2733209.html, set up 2022 with Deppon); "
     "site not published: derived offset from Jianghai seat [FLAG]"),
    ("JM-PJ-01", "江门市级救灾物资储备仓库", "Jiangmen municipal relief-supplies depot", "JM", -0.008, 0.006,
     "Jiangmen", "Pengjiang", "city", 30, 1.0,
     f"{R_GEO} §2 Jiangmen city seat (in Pengjiang) + derived offset; city-level warehouse per "
     "http://english.jiangmen.gov.cn/jmxw/202103/t20210329_2199848.htm [FLAG: site invented]"),
    ("JM-PJ-02", "蓬江区应急物资储备库", "Pengjiang district depot", "PJ", 0.010, -0.010,
     "Jiangmen", "Pengjiang", "district", 30, 0.4, f"{S_DIST} + derived offset [FLAG: site invented]"),
    ("JM-XH-01", "新会区应急物资储备库", "Xinhui district depot", "XH", 0.008, 0.010,
     "Jiangmen", "Xinhui", "district", 30, 0.5, f"{S_DIST} + derived offset [FLAG: site invented; seat 6.9 km uncertain]"),
    ("JM-TS-01", "台山市应急物资储备库", "Taishan county-level depot", "TS", 0.010, 0.008,
     "Jiangmen", "Taishan", "district", 30, 0.8,
     f"{S_DIST} + derived offset [FLAG: site invented]; Taishan is a national pre-positioning county "
     "(supplies-catalogue.md §3, https://fire.hczyw.com/article.php?id=180800) hence capacity 0.8"),
    ("JM-KP-01", "开平市应急物资储备库", "Kaiping county-level depot", "KP", -0.008, 0.010,
     "Jiangmen", "Kaiping", "district", 30, 0.5, f"{S_DIST} + derived offset [FLAG: site invented]"),
    ("JM-HS-01", "鹤山市应急物资储备库", "Heshan county-level depot", "HS", -0.010, 0.008,
     "Jiangmen", "Heshan", "district", 30, 0.4, f"{S_DIST} + derived offset [FLAG: site invented]"),
    ("JM-EP-01", "恩平市应急物资储备库", "Enping county-level depot", "EP", 0.008, -0.008,
     "Jiangmen", "Enping", "district", 30, 0.4, f"{S_DIST} + derived offset [FLAG: site invented]"),
    ("JM-PJ-C01", "蓬江区社区应急物资储备点", "Pengjiang community supply point", "PJ", -0.012, -0.004,
     "Jiangmen", "Pengjiang", "community", 20, 0.1, f"{S_DIST} + derived offset [FLAG: site invented]"),
    ("JM-XH-C01", "新会区社区应急物资储备点", "Xinhui community supply point", "XH", -0.010, -0.008,
     "Jiangmen", "Xinhui", "community", 20, 0.1, f"{S_DIST} + derived offset [FLAG: site invented]"),
    ("JM-TS-C01", "台山市社区应急物资储备点", "Taishan community supply point", "TS", -0.012, -0.006,
     "Jiangmen", "Taishan", "community", 20, 0.1, f"{S_DIST} + derived offset [FLAG: site invented]"),
    ("JM-TS-C02", "台山市斗山镇应急物资储备点", "Taishan Doushan town supply point", "DOUSHAN", 0.006, 0.004,
     "Jiangmen", "Taishan", "community", 20, 0.1,
     "derived: near the derived Doushan node (gba-geography.md §4, no coordinate) [FLAG: site invented]"),
    ("JM-KP-C01", "开平市社区应急物资储备点", "Kaiping community supply point", "KP", 0.010, -0.006,
     "Jiangmen", "Kaiping", "community", 20, 0.1, f"{S_DIST} + derived offset [FLAG: site invented]"),
    ("JM-EP-C01", "恩平市社区应急物资储备点", "Enping community supply point", "EP", -0.008, 0.006,
     "Jiangmen", "Enping", "community", 20, 0.1, f"{S_DIST} + derived offset [FLAG: site invented]"),
    ("JM-HS-C01", "鹤山市社区应急物资储备点", "Heshan community supply point", "HS", 0.008, -0.006,
     "Jiangmen", "Heshan", "community", 20, 0.1, f"{S_DIST} + derived offset [FLAG: site invented]"),
    ("JM-JH-C01", "江海区社区应急物资储备点", "Jianghai community supply point", "JH", -0.010, 0.006,
     "Jiangmen", "Jianghai", "community", 20, 0.1, f"{S_DIST} + derived offset [FLAG: site invented]"),
    # Guangzhou
    ("GZ-YX-01", "广州市应急物资储备库", "Guangzhou municipal depot", "GZ", -0.012, 0.010,
     "Guangzhou", "Yuexiu", "city", 30, 1.5,
     f"{S_SEAT} + derived offset [FLAG: site invented; seat district Yuexiu is general knowledge]; "
     "Guangzhou lent 2,000 beds + 2,000 tents in 2022 (scenarios.md §2, https://yuejiaxmz.com/news/view/827442)"),
    ("GZ-NS-01", "广州市南沙区应急物资储备库", "Guangzhou Nansha district depot", "NANSHA", 0.008, -0.008,
     "Guangzhou", "Nansha", "district", 30, 0.6, f"{S_ANCH} Nansha seat + derived offset [FLAG: site invented]"),
    ("GZ-YX-C01", "广州市越秀区社区应急物资储备点", "Guangzhou Yuexiu community supply point", "GZ", 0.006, -0.006,
     "Guangzhou", "Yuexiu", "community", 20, 0.1, f"{S_SEAT} + derived offset [FLAG: site invented]"),
    # Shenzhen
    ("SZ-FT-01", "深圳市应急物资储备库(福田)", "Shenzhen municipal depot, Futian", "SZ", 0.006, -0.012,
     "Shenzhen", "Futian", "city", 30, 1.5,
     f"{S_SEAT} + derived offset [FLAG: site invented; seat in Futian is general knowledge]"),
    ("SZ-BA-01", "深圳市宝安区应急物资储备库", "Shenzhen Bao'an district depot", "ZGSZ", 0.015, 0.012,
     "Shenzhen", "Bao'an", "district", 30, 0.6, f"{S_ANCH} ZGSZ + derived offset [FLAG: site invented]"),
    ("SZ-FT-C01", "深圳市福田区社区应急物资储备点", "Shenzhen Futian community supply point", "SZ", -0.006, 0.010,
     "Shenzhen", "Futian", "community", 20, 0.1, f"{S_SEAT} + derived offset [FLAG: site invented]"),
    # Zhuhai
    ("ZH-XZ-01", "珠海市应急物资储备库", "Zhuhai municipal depot", "ZH", 0.010, -0.012,
     "Zhuhai", "Xiangzhou", "city", 30, 1.0,
     f"{S_SEAT} + derived offset [FLAG: site invented; seat 5.7 km uncertain; district Xiangzhou general knowledge]"),
    ("ZH-DM-01", "珠海市斗门区应急物资储备库", "Zhuhai Doumen district depot", "DOUMEN", 0.008, 0.006,
     "Zhuhai", "Doumen", "district", 30, 0.4, f"{S_ANCH} Doumen + derived offset [FLAG: site invented]"),
    ("ZH-JW-01", "珠海市金湾区应急物资储备库", "Zhuhai Jinwan district depot", "JINWAN", 0.008, -0.008,
     "Zhuhai", "Jinwan", "district", 30, 0.4, f"{S_ANCH} Jinwan + derived offset [FLAG: site invented]"),
    ("ZH-JW-C01", "珠海市金湾区平沙镇应急物资储备点", "Zhuhai Pingsha town supply point", "PINGSHA", 0.008, 0.004,
     "Zhuhai", "Jinwan", "community", 20, 0.1, f"{S_ANCH} Pingsha + derived offset [FLAG: site invented]"),
    # Foshan
    ("FS-CC-01", "佛山市应急物资储备库", "Foshan municipal depot", "FS", 0.008, -0.012,
     "Foshan", "Chancheng", "city", 30, 1.0,
     f"{S_SEAT} + derived offset [FLAG: site invented; seat district Chancheng general knowledge]"),
    ("FS-CC-C01", "佛山市禅城区社区应急物资储备点", "Foshan Chancheng community supply point", "FS", -0.008, 0.006,
     "Foshan", "Chancheng", "community", 20, 0.1, f"{S_SEAT} + derived offset [FLAG: site invented]"),
    # Huizhou
    ("HZ-HC-01", "惠州市应急物资储备库", "Huizhou municipal depot", "HZ", 0.010, 0.008,
     "Huizhou", "Huicheng", "city", 30, 1.0,
     f"{S_SEAT} + derived offset [FLAG: site invented; seat 3.7 km uncertain; district Huicheng general knowledge]"),
    ("HZ-HC-C01", "惠州市惠城区社区应急物资储备点", "Huizhou Huicheng community supply point", "HZ", -0.008, -0.006,
     "Huizhou", "Huicheng", "community", 20, 0.1, f"{S_SEAT} + derived offset [FLAG: site invented]"),
    # Dongguan
    ("DG-NC-01", "东莞市应急物资储备库", "Dongguan municipal depot", "DG", -0.010, 0.008,
     "Dongguan", "Nancheng", "city", 30, 1.2,
     f"{S_SEAT} + derived offset [FLAG: site invented; Nancheng is a subdistrict, Dongguan has no districts]; "
     "Dongguan lent beds/tents 2022 (scenarios.md §2)"),
    ("DG-HM-01", "东莞市虎门镇应急物资储备库", "Dongguan Humen town depot", "HUMEN", 0.008, 0.006,
     "Dongguan", "Humen", "district", 30, 0.4,
     f"{S_ANCH} Humen town + derived offset [FLAG: site invented; Humen is a town, tier 'district' used for the county level]"),
    ("DG-NC-C01", "东莞市南城社区应急物资储备点", "Dongguan Nancheng community supply point", "DG", 0.008, -0.006,
     "Dongguan", "Nancheng", "community", 20, 0.1, f"{S_SEAT} + derived offset [FLAG: site invented]"),
    # Zhongshan
    ("ZS-DQ-01", "中山市应急物资储备库", "Zhongshan municipal depot", "ZS", 0.008, 0.010,
     "Zhongshan", "Dongqu", "city", 30, 1.0,
     f"{S_SEAT} + derived offset [FLAG: site invented; Dongqu subdistrict is general knowledge]"),
    ("ZS-NL-01", "中山市南朗应急物资储备库", "Zhongshan Nanlang depot", "NANLANG", 0.008, -0.006,
     "Zhongshan", "Nanlang", "district", 30, 0.4, f"{S_ANCH} Nanlang + derived offset [FLAG: site invented]"),
    ("ZS-DQ-C01", "中山市东区社区应急物资储备点", "Zhongshan Dongqu community supply point", "ZS", -0.008, -0.006,
     "Zhongshan", "Dongqu", "community", 20, 0.1, f"{S_SEAT} + derived offset [FLAG: site invented]"),
    # Zhaoqing
    ("ZQ-DZ-01", "肇庆市应急物资储备库", "Zhaoqing municipal depot", "ZQ", 0.008, 0.010,
     "Zhaoqing", "Duanzhou", "city", 30, 1.0,
     f"{S_SEAT} + derived offset [FLAG: site invented; district Duanzhou general knowledge]"),
    ("ZQ-DZ-C01", "肇庆市端州区社区应急物资储备点", "Zhaoqing Duanzhou community supply point", "ZQ", -0.006, -0.008,
     "Zhaoqing", "Duanzhou", "community", 20, 0.1, f"{S_SEAT} + derived offset [FLAG: site invented]"),
    # Hong Kong
    ("HK-KT-01", "香港葵青应急物资仓", "Hong Kong Kwai Tsing relief depot", "HK_KWAICHUNG", 0.004, 0.004,
     "Hong Kong", "Kwai Tsing", "city", 45, 1.0,
     f"derived: near the derived Kwai Tsing node (Kwai Tsing container terminal named in {R_GEO} §7) [FLAG: site invented]; "
     "handling 45 min: customs-side depot, cross-boundary paperwork [FLAG: assumption]"),
    ("HK-IS-01", "香港离岛区(东涌)应急物资仓", "Hong Kong Islands (Tung Chung) depot by HZMB HK Port", "VHHH", 0.004, 0.012,
     "Hong Kong", "Islands", "district", 45, 0.4,
     f"{S_ANCH} VHHH + derived offset [FLAG: site invented]; customs-side depot at the HZMB HK Port, handling 45 min [FLAG]"),
    ("HK-CW-C01", "香港中西区社区应急物资点", "Hong Kong Central and Western community supply point", "HK", -0.004, -0.006,
     "Hong Kong", "Central and Western", "community", 20, 0.1, f"{S_SEAT_HK} + derived offset [FLAG: site invented]"),
    # Macau
    ("MO-01", "澳门半岛应急物资仓", "Macau peninsula relief depot", "MO", 0.006, 0.002,
     "Macau", None, "city", 45, 0.6,
     f"{S_SEAT_MO} + derived offset [FLAG: site invented]; customs-side, handling 45 min [FLAG]"),
    ("MO-TP-01", "澳门氹仔应急物资仓", "Macau Taipa relief depot", "VMMC", 0.005, -0.010,
     "Macau", "Taipa", "district", 45, 0.3,
     f"{S_ANCH} VMMC + derived offset [FLAG: site invented]; customs-side, handling 45 min [FLAG]"),
]


# Community tier: grid reserve points in Jianghai district (issue: community points).
# Jianghai runs 190 grids (reserve-policy.md, "Households and grids"); the demo holds one
# point for every third grid, numbers 1, 4, 7, ... 190 (64 grids). Their positions are
# SYNTHETIC: a jittered 8 x 8 lattice over Jianghai's built-up area, a box around the
# district centroid (gba-geography.md §1: WGS84 22.5512, 113.1227) and the district seat
# (§3: 22.5640, 113.1056). [FLAG: real grid boundaries and sites are not published here]
GRID_NUMBERS = list(range(1, 191, 3))
GRID_BOX = (22.540, 22.592, 113.092, 113.140)  # lat min, lat max, lon min, lon max [FLAG]
S_GRID = ("reserve-policy.md 'Households and grids' (Jianghai 190 grids; urban grid 300-500 "
          "households); position synthetic inside Jianghai's built-up area [FLAG: site invented]")


def grid_points():
    """64 grid reserve points, deterministic: lattice cell k of 8 x 8, jittered by a
    fixed hash of the grid number. Every fourth also keeps the grid's shared medicine box
    (共享药箱, December 2022; reserve-policy.md)."""
    out = []
    lat0, lat1, lon0, lon1 = GRID_BOX
    for k, g in enumerate(GRID_NUMBERS):
        row, col = divmod(k, 8)
        jlat = ((g * 7919) % 100) / 100 - 0.5
        jlon = ((g * 104729) % 100) / 100 - 0.5
        lat = lat0 + (row + 0.5 + 0.6 * jlat) * (lat1 - lat0) / 8
        lon = lon0 + (col + 0.5 + 0.6 * jlon) * (lon1 - lon0) / 8
        households = 300 + (g * 37) % 201  # 300-500 [FLAG: synthetic, in the published range]
        box = k % 4 == 3
        out.append({
            "code": f"JM-JH-G{g:03d}",
            "name_zh": f"江海区第{g}网格应急物资储备点" + ("（含共享药箱）" if box else ""),
            "name_en": f"Jianghai grid {g} reserve point" + (" with shared medicine box" if box else ""),
            "lat": round(lat, 4), "lon": round(lon, 4),
            "city": "Jiangmen", "district": "Jianghai", "tier": "community",
            "handling_minutes": 10, "capacity_factor": 0.02,
            "parent": "JM-JH-TS",
            "grid": g, "households": households, "medicine_box": box,
            "source": S_GRID,
        })
    return out


def parent_of(w, by_code):
    """Who resupplies a warehouse first (replenishment's first source): a community point
    its district's depot (else its city depot), a district depot its city depot (the
    Jianghai transfer station: the reserve centre beside it), a city depot the reserve
    centre. [FLAG: the demo's hierarchy is a project assumption, after Shenzhen's
    city-district-street-community levels, reserve-policy.md]"""
    if w["tier"] == "regional_centre":
        return None
    same_city = [x for x in by_code.values() if x["city"] == w["city"]]
    city = next((x["code"] for x in same_city if x["tier"] == "city"), "JM-JH-RC")
    if w["tier"] == "community":
        district = next((x["code"] for x in same_city
                         if x["tier"] == "district" and x["district"] == w["district"]), None)
        return district or city
    if w["tier"] == "district":
        if w["district"] == by_code["JM-JH-RC"]["district"]:
            return "JM-JH-RC"
        return city
    return "JM-JH-RC"


def build_warehouses():
    out = build_depots()
    by_code = {w["code"]: w for w in out}
    for w in out:
        w["parent"] = parent_of(w, by_code)
    return out + grid_points()


def build_depots():
    out = []
    for (code, zh, en, anchor, dlat, dlon, city, district, tier, hmin, cap, note) in WAREHOUSES:
        lon, lat, _ = NODES[anchor]
        at_anchor = dlat == 0 and dlon == 0
        src = note if at_anchor else note + f" (offset {dlat:+.3f} lat, {dlon:+.3f} lon from {anchor})"
        out.append({
            "code": code, "name_zh": zh, "name_en": en,
            "lat": round(lat + dlat, 4), "lon": round(lon + dlon, 4),
            "city": city, "district": district, "tier": tier,
            "handling_minutes": hmin, "capacity_factor": cap, "source": src,
        })
    return out

# ---------------------------------------------------------------------------
# 4. Network
# ---------------------------------------------------------------------------
def hav_km(a, b):
    (lon1, lat1), (lon2, lat2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def line_km(coords):
    return sum(hav_km(coords[i], coords[i + 1]) for i in range(len(coords) - 1))


def stretch(coords, factor):
    """Insert a perpendicular mid-point vertex in every segment so that the line length grows by
    `factor` (derived sinuosity; endpoints and existing vertices are kept exactly)."""
    if factor <= 1.0001:
        return coords
    # densify first (pieces <= 6 km) so that the zig-zag offsets stay small (<= ~2.5 km)
    dense = [coords[0]]
    for i in range(len(coords) - 1):
        a, b = coords[i], coords[i + 1]
        n = max(1, math.ceil(hav_km(a, b) / 6.0))
        for j in range(1, n):
            dense.append((round(a[0] + (b[0] - a[0]) * j / n, 6), round(a[1] + (b[1] - a[1]) * j / n, 6)))
        dense.append(b)
    coords = dense
    out = [coords[0]]
    h_rel = 0.5 * math.sqrt(factor * factor - 1)
    for i in range(len(coords) - 1):
        (x1, y1), (x2, y2) = coords[i], coords[i + 1]
        k = math.cos(math.radians((y1 + y2) / 2))
        dx, dy = (x2 - x1) * k, (y2 - y1)
        side = 1 if i % 2 == 0 else -1
        mx, my = (x1 + x2) / 2, (y1 + y2) / 2
        # perpendicular (-dy, dx) in the scaled plane
        px, py = -dy * h_rel * side, dx * h_rel * side
        out.append((round(mx + px / k, 6), round(my + py, 6)))
        out.append(coords[i + 1])
    return out


X_SPEED = 80  # km/h
S_SPEED = ("speed 80 km/h: gba-geography.md §8.1 80 km/h column (trucks; HZMB slow-lane limit 80, §7; "
           "truck cap 100 km/h [FLAG: not verified])")
S_ART = "arterial 50 km/h, local 30 km/h: project assumption [FLAG]"
S_BORDER = "border_minutes: customs clearance time is not sourced; project assumption [FLAG: gba-geography.md §7 permit/quota rules not established]"
DEFAULT_SINUOSITY = 1.3  # derived: expressways without a sourced length [FLAG]
URBAN_SINUOSITY = 1.25  # derived: arterial/local roads [FLAG]

# Edges: (id, name, class, [node, (lon,lat)..., node], trucks, extra, source, group)
# group: sourced route length (km) shared by consecutive edges; None -> default sinuosity
E = []

def edge(eid, name, cls, path, src, trucks=True, speed=None, minutes=None, border=None, group=None):
    E.append(dict(id=eid, name=name, cls=cls, path=path, src=src, trucks=trucks,
                  speed=speed, minutes=minutes, border=border, group=group))

S_ZJ = "gba-geography.md §8 Zhongjiang Expy 32.38 km (https://54e1ad4b4888.kfd.me/wiki/%E4%B8%AD%E9%B9%A4%E9%AB%98%E9%80%9F%E5%85%AC%E8%B7%AF)"
S_JZ = "gba-geography.md §8 Jiangzhu Expy 53.3 km (https://www.newton.com.tw/wiki/%E6%B1%9F%E7%8F%A0%E9%AB%98%E9%80%9F)"
S_ZK = "gba-geography.md §8 Zhongkai Expy 129.7 km (https://gzdaily.dayoo.com/pc/html/2024-06/20/content_569_861226.htm; https://456150.com.cn/home/sqdt/xhzx/content/post_3116422.html)"
S_GZJ = "gba-geography.md §8 Guangzhongjiang Expy S20 ~67 km incl. phases (https://zhwiki.pedia.workers.dev/wiki/%E5%B9%BF%E4%B8%AD%E6%B1%9F%E9%AB%98%E9%80%9F)"
S_FK = "gba-geography.md §8 Fokai Expy 80 km (https://jendow.com.tw/wiki/%E4%BD%9B%E9%96%8B%E9%AB%98%E9%80%9F%E5%85%AC%E8%B7%AF)"
S_ALSO = "gba-geography.md §8 'also relevant' (https://www.gy9.cn/article/14644.html; http://love.whwd.com/thread-273555-1-1.html)"
S_NSB = "gba-geography.md §7 Nansha Bridge 12.8 km, 8 lanes, 100 km/h (https://www.chinadaily.com.cn/a/201904/02/WS5ca34a10a3104842260b4022.html; https://everything.explained.today/Nansha_Bridge/)"
S_HB = ("gba-geography.md §7/§9 Humen Bridge, whole project 15.76 km; goods vehicles banned since Aug 2019 "
        "(https://idg.timedg.com/p/20852957.html) [FLAG: ban re-check]")
S_SZZS = "gba-geography.md §7 Shenzhen-Zhongshan Link ~24 km, 100 km/h (http://en.people.cn/n3/2024/0701/c90000-20187595.html)"
S_HZMB = ("gba-geography.md §7 HZMB: HK Port -> Zhuhai/Macau ports ~42 km [FLAG: low-quality page] "
          "(https://this.kiji.is/427412773417976929; http://m.jrszb.cc/english/2018-02/19/c_136984849.htm)")
S_HMH = "gba-geography.md §7 Huangmaohai Link ~31 km, 100 km/h (http://china.org.cn/china/2024-12/12/content_117602468.htm)"
S_GEN = "expressway named for realism; alignment approximated between sourced seats [FLAG: route not sourced]"

# --- Jiangmen core
edge("zhongjiang-1", "Zhongjiang Expy (Gangkou - Jianghai)", "expressway",
     ["GANGKOU", (113.2600, 22.5800), (113.1700, 22.5600), "JH"], S_ZJ, speed=X_SPEED, group=("zj", 32.38))
edge("zhongjiang-2", "Zhongjiang Expy (Jianghai - Pengjiang)", "expressway",
     ["JH", (113.0900, 22.5850), "PJ"], S_ZJ, speed=X_SPEED, group=("zj", 32.38))
edge("jiangzhu-1", "Jiangzhu Expy (Jianghai Sicun - Muzhou)", "expressway",
     ["JH", (113.1250, 22.4800), "MUZHOU"], S_JZ, speed=X_SPEED, group=("jz", 53.3))
edge("jiangzhu-2", "Jiangzhu Expy (Muzhou - Doumen - Hezhou)", "expressway",
     ["MUZHOU", (113.2500, 22.3300), (113.3700, 22.2800), "HEZHOU"], S_JZ, speed=X_SPEED, group=("jz", 53.3))
edge("zhongkai-1", "Zhongkai Expy (Ma'an - Nanlang)", "expressway",
     ["MAAN", "NANLANG"], S_ZK, speed=X_SPEED, group=("zk", 129.7))
edge("zhongkai-2", "Zhongkai Expy (Nanlang - Da'ao)", "expressway",
     ["NANLANG", (113.3800, 22.4700), (113.2800, 22.4300), "DAAO"], S_ZK, speed=X_SPEED, group=("zk", 129.7))
edge("zhongkai-3", "Zhongkai Expy (Da'ao - Muzhou)", "expressway",
     ["DAAO", "MUZHOU"], S_ZK, speed=X_SPEED, group=("zk", 129.7))
edge("zhongkai-4", "Zhongkai Expy (Muzhou - Sanjiang - Shuangshui)", "expressway",
     ["MUZHOU", (113.0600, 22.3950), "SHUANGSHUI"], S_ZK, speed=X_SPEED, group=("zk", 129.7))
edge("zhongkai-5", "Zhongkai Expy (Shuangshui - Luokeng - Kaiyang jct)", "expressway",
     ["SHUANGSHUI", (112.8500, 22.3500), (112.7000, 22.3200), "KY_ZK"], S_ZK, speed=X_SPEED, group=("zk", 129.7))
edge("guangzhongjiang-1", "Guangzhongjiang Expy S20 (Nansha Dagang - Huangpu - Xiaolan)", "expressway",
     ["NANSHA", (113.4300, 22.7500), (113.3500, 22.7200), (113.3000, 22.7000), "XIAOLAN"], S_GZJ, speed=X_SPEED, group=("gzj", 67.0))
edge("guangzhongjiang-2", "Guangzhongjiang Expy S20 (Xiaolan - Jun'an - Pengjiang Binjiang - Yayao)", "expressway",
     ["XIAOLAN", (113.1700, 22.7000), (113.0900, 22.6400), "YAYAO"], S_GZJ, speed=X_SPEED, group=("gzj", 67.0))
edge("fokai-1", "Fokai Expy G15 (Foshan - Jiujiang - Heshan)", "expressway",
     ["FS", (113.0500, 22.9300), (113.0300, 22.8300), "HS"], S_FK, speed=X_SPEED, group=("fk", 80.0))
edge("fokai-2", "Fokai Expy G15 (Heshan - Yayao)", "expressway",
     ["HS", "YAYAO"], S_FK, speed=X_SPEED, group=("fk", 80.0))
edge("fokai-3", "Fokai Expy G15 (Yayao - Jiangmen)", "expressway",
     ["YAYAO", "PJ"], S_FK, speed=X_SPEED, group=("fk", 80.0))
edge("fokai-4", "Fokai Expy G15 (Jiangmen - Shuikou)", "expressway",
     ["PJ", (112.9500, 22.5200), (112.8300, 22.4400), "SHUIKOU"], S_FK, speed=X_SPEED, group=("fk", 80.0))
edge("kaiyang-1", "Kaiyang Expy (Shuikou - Kaiping)", "expressway",
     ["SHUIKOU", "KP"], S_ALSO + "; " + S_GEN, speed=X_SPEED)
edge("kaiyang-2", "Kaiyang Expy (Kaiping - Zhongkai jct)", "expressway",
     ["KP", (112.6200, 22.3300), "KY_ZK"], S_ALSO + "; " + S_GEN, speed=X_SPEED)
edge("kaiyang-3", "Kaiyang Expy (Zhongkai jct - Enping)", "expressway",
     ["KY_ZK", (112.4200, 22.2300), "EP"], S_ALSO + "; " + S_GEN, speed=X_SPEED)
edge("xintai-1", "Xintai Expy (Xinhui - Taishan)", "expressway",
     ["XH", (112.9300, 22.3600), (112.8400, 22.3000), "TS"], S_ALSO + "; " + S_GEN, speed=X_SPEED)
edge("xintai-south", "Xintai Expy south extension (Taishan - Doushan)", "expressway",
     ["TS", (112.8500, 22.1500), "DOUSHAN"],
     "gba-geography.md §7: Huangmaohai Link connects to the Xintai Expy; alignment derived [FLAG]", speed=X_SPEED)
edge("g15-coastal-1", "Western Coastal Expy G15 (Hezhou - Doumen)", "expressway",
     ["HEZHOU", (113.3700, 22.2200), "DOUMEN"], S_ALSO + " (Doumen entrance named, §9.2); " + S_GEN, speed=X_SPEED)
edge("g15-coastal-2", "Western Coastal Expy G15 (Doumen - Yamen - Shuangshui)", "expressway",
     ["DOUMEN", (113.1800, 22.2500), (113.0800, 22.2900), "SHUANGSHUI"], S_ALSO + "; " + S_GEN, speed=X_SPEED)
edge("g15-coastal-3", "Western Coastal Expy G15 (Shuangshui - Taishan)", "expressway",
     ["SHUANGSHUI", (112.8800, 22.3300), "TS"], S_ALSO + "; " + S_GEN, speed=X_SPEED)
edge("g15-coastal-4", "Western Coastal Expy G15 (Taishan - Enping)", "expressway",
     ["TS", (112.6200, 22.2300), (112.4500, 22.2000), "EP"], S_ALSO + "; " + S_GEN, speed=X_SPEED)
edge("jiangzhao-1", "Jiangzhao Expy (Zhaoqing - Heshan)", "expressway",
     ["ZQ", (112.6500, 22.9600), (112.8500, 22.8300), "HS"], S_ALSO + "; " + S_GEN, speed=X_SPEED)
# Jiangmen urban arterials / locals
edge("jm-city-pj", "Jiangmen city seat - Pengjiang (local)", "local", ["JM", "PJ"], S_ART, speed=30)
edge("jm-city-jh", "Jiangmen city seat - Jianghai (arterial)", "arterial", ["JM", (113.0900, 22.5700), "JH"], S_ART, speed=50)
edge("jh-xinhui", "Jianghai - Xinhui (arterial, via Jiangmen Avenue)", "arterial",
     ["JH", (113.0800, 22.5100), "XH"], S_ART, speed=50)
edge("pj-xinhui", "Pengjiang - Xinhui Huicheng (arterial)", "arterial",
     ["PJ", (113.0450, 22.5300), "XH"], S_ART, speed=50)
edge("xinhui-daao", "Xinhui - Da'ao (arterial)", "arterial", ["XH", (113.1100, 22.4400), "DAAO"], S_ART, speed=50)
edge("kaiping-taishan", "Kaiping - Taishan (arterial)", "arterial", ["KP", (112.7500, 22.3100), "TS"], S_ART, speed=50)
edge("zs-nanlang", "Zhongshan - Nanlang (arterial)", "arterial", ["ZS", (113.4300, 22.5300), "NANLANG"], S_ART, speed=50)
# --- estuary crossings
edge("nansha-bridge", "Nansha Bridge 南沙大桥", "bridge", ["NSB_W", (113.5575, 22.8864), "SHATIAN"], S_NSB,
     speed=X_SPEED, group=("nsb", 12.8))
edge("nansha-bridge-west", "Guanglong Expy approach (Nansha - Nansha Bridge)", "expressway",
     ["NANSHA", (113.5050, 22.8400), "NSB_W"], S_NSB + "; approach alignment derived [FLAG]", speed=X_SPEED)
edge("nansha-bridge-east", "Nansha Bridge east approach (Shatian - Humen)", "expressway",
     ["SHATIAN", (113.7200, 22.8800), "HUMEN"], S_NSB + "; approach alignment derived [FLAG]", speed=X_SPEED)
edge("humen-bridge", "Humen Bridge 虎门大桥 (Taiping-Tanwei section)", "bridge",
     ["HB_W", (113.6108, 22.7886), "HB_E"], S_HB + "; mid-point 22.7886,113.6108 Wikipedia [FLAG: datum unclear]",
     trucks=False, speed=X_SPEED, group=("hb", 15.76))
edge("humen-bridge-west", "Humen Bridge west approach (Nansha)", "expressway",
     ["NANSHA", (113.5500, 22.7950), "HB_W"], S_HB + "; approach derived [FLAG]", trucks=False, speed=X_SPEED)
edge("humen-bridge-east", "Humen Bridge east approach (Taiping - Humen town)", "arterial",
     ["HB_E", (113.7400, 22.8300), "HUMEN"], S_HB + "; approach derived [FLAG]", speed=50)
edge("shenzhen-zhongshan-link", "Shenzhen-Zhongshan Link 深中通道 (G2518)", "bridge",
     ["ZGSZ", (113.7000, 22.5900), "MAAN"], S_SZZS + "; west end Ma'an derived [FLAG]", speed=X_SPEED)
edge("hzmb-main", "Hong Kong-Zhuhai-Macao Bridge 港珠澳大桥 main line", "bridge",
     ["HZMB_HKP", (113.8000, 22.2900), (113.7000, 22.2500), "HZMB_ZHP"], S_HZMB, speed=X_SPEED, group=("hzmb", 42.0))
edge("hzmb-hk-port", "HZMB Hong Kong Port (HK customs)", "border", ["VHHH", "HZMB_HKP"],
     S_HZMB + "; " + S_BORDER, speed=30, border=30)
edge("hzmb-zhuhai-port", "HZMB Zhuhai Port (mainland customs) - Zhuhai city", "border",
     ["HZMB_ZHP", (113.5600, 22.2400), "ZH"], S_HZMB + "; " + S_BORDER, speed=40, border=30)
edge("hzmb-macau-port", "HZMB Macau Port (Macau customs) - Macau peninsula", "border",
     ["HZMB_ZHP", "MO"], S_HZMB + "; " + S_BORDER, speed=30, border=30)
edge("huangmaohai-link", "Huangmaohai Link 黄茅海跨海通道", "bridge",
     ["PINGSHA", (113.0500, 22.0900), "DOUSHAN"], S_HMH + "; west end Doushan derived [FLAG]", speed=X_SPEED, group=("hmh", 31.0))
# --- Zhuhai / Macau
edge("zhuhai-avenue-1", "Zhuhai Avenue (Zhuhai - Hezhou)", "arterial",
     ["ZH", (113.5200, 22.2500), "HEZHOU"], "gba-geography.md §8 (Jiangzhu ends at Zhuhai Avenue); " + S_ART, speed=50)
edge("zhuhai-avenue-2", "Zhuhai Avenue (Hezhou - Jinwan)", "arterial",
     ["HEZHOU", (113.4100, 22.1900), "JINWAN"], "gba-geography.md §8; " + S_ART, speed=50)
edge("jinwan-pingsha", "Jinwan - Gaolan - Pingsha (expressway)", "expressway",
     ["JINWAN", (113.2700, 22.1200), "PINGSHA"], S_HMH + " (Pingsha/Gaolan); " + S_GEN, speed=X_SPEED)
edge("zh-gongbei", "Zhuhai - Gongbei (arterial)", "arterial", ["ZH", (113.5600, 22.2450), "GONGBEI"], S_ART, speed=40)
edge("gongbei-border", "Gongbei / Border Gate crossing (Zhuhai - Macau)", "border", ["GONGBEI", "MO"],
     "derived crossing between Zhuhai and Macau seats; " + S_BORDER, speed=20, border=30)
edge("hengqin-bridge", "Hengqin Bridge (Zhuhai - Hengqin)", "bridge",
     ["ZH", (113.5400, 22.2000), (113.5350, 22.1600), "HENGQIN"],
     "gba-geography.md §9.2 Hengqin bridges close in typhoons (http://news.43b.com.cn/a/1297731.html); alignment derived [FLAG]",
     speed=50)
edge("hengqin-border", "Hengqin port / Lotus Bridge (Hengqin - Taipa/Cotai)", "border", ["HENGQIN", (113.5700, 22.1450), "VMMC"],
     "derived crossing; " + S_BORDER, speed=30, border=30)
edge("macau-taipa-bridge", "Macau-Taipa bridges (Sai Van lower deck stays open under T8)", "bridge",
     ["MO", (113.5600, 22.1750), "VMMC"], "gba-geography.md §9.2 (https://macaupostdaily.com/news/18550); alignment derived", speed=40)
edge("guangzhu-east-3", "Guangzhu East Expy (Zhongshan - Zhuhai)", "expressway",
     ["ZS", (113.4600, 22.4300), (113.5300, 22.3400), "ZH"], S_GEN, speed=X_SPEED)
edge("guangzhu-east-2", "Guangzhu East Expy (Gangkou - Zhongshan)", "expressway",
     ["GANGKOU", (113.3700, 22.5500), "ZS"], "gba-geography.md §8 (Zhongjiang meets Guangzhu East at Gangkou); " + S_GEN, speed=X_SPEED)
edge("guangzhu-east-1", "Guangzhu East Expy (Guangzhou Panyu - Gangkou)", "expressway",
     ["GZ", (113.3300, 22.9500), (113.3500, 22.7500), "GANGKOU"], S_GEN, speed=X_SPEED)
edge("guangzhu-west-1", "Guangzhu West Expy (Guangzhou - Shunde - Xiaolan)", "expressway",
     ["GZ", (113.2300, 22.9500), (113.2400, 22.8000), "XIAOLAN"], S_ALSO + "; " + S_GEN, speed=X_SPEED)
edge("guangzhu-west-2", "Guangzhu West Expy (Xiaolan - Zhongshan west - Hezhou)", "expressway",
     ["XIAOLAN", (113.3000, 22.4500), (113.3800, 22.3200), "HEZHOU"], S_ALSO + "; " + S_GEN, speed=X_SPEED)
edge("nansha-port-expy", "Nansha Port Expy (Guangzhou - Nansha)", "expressway",
     ["GZ", (113.4000, 23.0000), (113.4700, 22.9000), "NANSHA"], S_GEN, speed=X_SPEED)
# --- north and east bank
edge("guangfo-expy", "Guangfo Expy (Guangzhou - Foshan)", "expressway", ["GZ", (113.1900, 23.0900), "FS"], S_GEN, speed=X_SPEED)
edge("guangzhao-expy", "Guangzhou-Zhaoqing Expy (Foshan - Zhaoqing)", "expressway",
     ["FS", (112.9000, 23.0800), (112.6500, 23.0500), "ZQ"], S_GEN, speed=X_SPEED)
edge("guangshen-1", "Guangshen Expy G4 (Guangzhou - Humen)", "expressway",
     ["GZ", (113.4500, 23.0700), (113.6500, 22.9500), "HUMEN"], S_GEN, speed=X_SPEED)
edge("guangshen-2", "Guangshen Expy G4 (Humen - Shenzhen airport)", "expressway",
     ["HUMEN", (113.8300, 22.7500), "ZGSZ"], S_GEN, speed=X_SPEED)
edge("guangshen-3", "Guangshen / Jihe corridor (Shenzhen airport - Futian)", "expressway",
     ["ZGSZ", (113.9000, 22.5900), (113.9800, 22.5500), "SZ"], S_GEN, speed=X_SPEED)
edge("humen-dongguan", "Humen - Dongguan (expressway)", "expressway",
     ["HUMEN", (113.7600, 22.9400), "DG"], S_GEN, speed=X_SPEED)
edge("shatian-dongguan", "Guanglong Expy (Shatian - Dongguan)", "expressway",
     ["SHATIAN", (113.6700, 22.9800), "DG"], S_NSB + " (Nansha Bridge starts the Guangzhou-Longchuan Expy); " + S_GEN, speed=X_SPEED)
edge("dongguan-shenzhen", "Guanshen Expy (Dongguan - Shenzhen)", "expressway",
     ["DG", (113.9000, 22.8500), (114.0000, 22.6800), "SZ"], S_GEN, speed=X_SPEED)
edge("guanghui-1", "Guanghui Expy (Guangzhou - Dongguan north)", "expressway",
     ["GZ", (113.4500, 23.1500), "GH_DG"], "Guanghui Expy named in the brief; " + S_GEN, speed=X_SPEED)
edge("guanghui-2", "Guanghui Expy (Dongguan north - Huizhou)", "expressway",
     ["GH_DG", (114.0000, 23.1300), (114.2500, 23.1000), "HZ"], "Guanghui Expy named in the brief; " + S_GEN, speed=X_SPEED)
edge("dg-guanghui", "Dongguan - Guanghui interchange (arterial)", "arterial", ["DG", "GH_DG"], S_ART, speed=50)
edge("shenzhen-huizhou", "Shenzhen-Huizhou Expy corridor", "expressway",
     ["SZ", (114.1800, 22.6500), (114.3300, 22.8800), "HZ"], S_GEN, speed=X_SPEED)
# --- Shenzhen / Hong Kong
edge("sz-huanggang", "Futian - Huanggang port (arterial)", "arterial", ["SZ", (114.0620, 22.5380), "HUANGGANG"], S_ART, speed=40)
edge("huanggang-lok-ma-chau", "Huanggang / Lok Ma Chau crossing (Shenzhen - HK)", "border", ["HUANGGANG", "HK_LMC"],
     "derived crossing (brief: HK-Shenzhen border crossing); " + S_BORDER, speed=20, border=45)
edge("hk-lmc-kwaichung", "San Tin Hwy / Tsing Long Hwy (Lok Ma Chau - Kwai Chung)", "expressway",
     ["HK_LMC", (114.0500, 22.4500), (114.1000, 22.3900), "HK_KWAICHUNG"], S_GEN, speed=70)
edge("hk-kwaichung-central", "Western Harbour Crossing (Kwai Chung - Central)", "tunnel",
     ["HK_KWAICHUNG", (114.1450, 22.3200), (114.1500, 22.2900), "HK"], S_GEN, speed=50)
edge("hk-kwaichung-airport", "Tsing Ma Bridge / North Lantau Hwy (Kwai Chung - Tung Chung)", "expressway",
     ["HK_KWAICHUNG", (114.0750, 22.3520), (113.9700, 22.2950), "VHHH"], S_GEN, speed=70)


def build_network():
    node_xy = {k: (v[0], v[1]) for k, v in NODES.items()}

    def resolve(path):
        return [node_xy[p] if isinstance(p, str) else p for p in path]

    # group stretch factors
    glen = {}
    for e in E:
        if e["group"]:
            gid, tgt = e["group"]
            glen.setdefault(gid, [tgt, 0.0])
            glen[gid][1] += line_km(resolve(e["path"]))
    feats = []
    for e in E:
        coords = resolve(e["path"])
        if e["group"]:
            tgt, cur = glen[e["group"][0]]
            f = tgt / cur
            note = f"; geometry stretched x{f:.2f} to the sourced {tgt} km (derived)" if f > 1.0001 else \
                   f"; geometry {cur:.1f} km vs sourced {tgt} km (anchors too far apart to shorten) [FLAG]"
        elif e["cls"] == "expressway":
            f = DEFAULT_SINUOSITY
            note = f"; geometry stretched x{f} sinuosity (derived, unsourced) [FLAG]"
        elif e["cls"] in ("arterial", "local"):
            f = URBAN_SINUOSITY
            note = f"; geometry stretched x{f} sinuosity (derived, unsourced) [FLAG]"
        else:
            f, note = 1.0, ""
        coords = stretch(coords, f) if f > 1.0001 else coords
        props = {"id": e["id"], "name": e["name"], "road_class": e["cls"]}
        if e["minutes"] is not None:
            props["minutes"] = e["minutes"]
        else:
            props["speed_kmh"] = e["speed"]
        props["trucks_allowed"] = e["trucks"]
        if e["border"] is not None:
            props["border_minutes"] = e["border"]
        src = e["src"] + note
        if e["cls"] in ("expressway", "bridge") and e["speed"] == X_SPEED:
            src += "; " + S_SPEED
        props["source"] = src
        feats.append({"type": "Feature", "properties": props,
                      "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]}})
    return {"type": "FeatureCollection", "features": feats}


def dump(name, obj):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")


def main():
    cats = [{"code": c, "parent": p, "name_zh": zh, "name_en": en, "source": s} for c, p, zh, en, s in CATEGORIES]
    dump("categories.json", cats)
    dump("items.json", build_items())
    dump("warehouses.json", build_warehouses())
    dump("network.geojson", build_network())
    print("wrote categories.json, items.json, warehouses.json, network.geojson")


if __name__ == "__main__":
    main()
