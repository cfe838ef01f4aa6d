// UI strings in English and Simplified Chinese, and names of items and warehouses in the
// chosen language. A missing key shows the key itself, so gaps are visible, never blank.

const LANG_KEY = 'stockpile.lang';

const en = {
  brand: 'Stockpile', skip: 'Skip to content', language: 'Language', sign_out: 'Sign out',
  sign_in: 'Sign in', username: 'Username', password: 'Password', loading: 'Loading…', error: 'Error',
  not_allowed: 'Your role cannot open this screen.', not_found: 'No such screen.',
  role_clerk: 'clerk', role_dispatcher: 'dispatcher', role_auditor: 'auditor', role_admin: 'admin',
  nav_stock: 'Stock', nav_expiry: 'Expiry profile', nav_alerts: 'Alerts', nav_receive: 'Receive',
  nav_issue: 'Issue', nav_adjust: 'Adjust', nav_reserves: 'Reserve levels', nav_transfers: 'Transfers', nav_quarantine: 'Quarantine', nav_counts: 'Counts',
  nav_map: 'Map', nav_requests: 'Requests', nav_audit: 'Audit events', nav_exports: 'Exports',
  nav_asof: 'Stock as of', nav_movements: 'Movements', nav_import: 'Import', nav_items: 'Items', nav_warehouses: 'Warehouses',
  md_items_title: 'Catalogue items', md_items_help: 'Several GTINs per item (separate them with ;). A retired item is no longer received or requested; its stock stays and can still be issued. A new shelf-life policy never changes the expiry of lots on record.',
  md_warehouses_title: 'Warehouses', md_warehouses_help: 'Positions are WGS84 and must lie in the service area unless you tick the box. A move takes effect in the next plan. Codes never change.',
  md_new: 'New', md_new_item: 'New item', md_edit_item: 'Edit item {sku}', md_new_warehouse: 'New warehouse', md_edit_warehouse: 'Edit warehouse {code}',
  md_retire: 'Retire', md_reactivate: 'Reactivate', md_retired: 'Retired {sku}.', md_reactivated: 'Reactivated {sku}.', md_saved: 'Saved {code}.',
  md_status_active: 'active', md_status_retired: 'retired', md_status_inactive: 'inactive',
  name_zh: 'Name (Chinese)', name_en: 'Name (English)', unit_zh: 'Unit (Chinese)', unit_en: 'Unit (English)', spec: 'Specification', gtins: 'GTINs',
  shelf_life_days: 'Shelf life (days)', min_remaining_days: 'Min. days left', alert_days: 'Alert (days)', storage_class: 'Storage',
  sc_ambient: 'ambient', sc_cool: 'cool (2–8 °C)', sc_frozen: 'frozen', save: 'Save', edit: 'Edit', code: 'Code', district: 'District', tier: 'Tier',
  tier_regional_centre: 'regional centre', tier_city: 'city', tier_district: 'district', tier_community: 'community point', tier_agreement: 'agreement stock',
  outside_service_area: 'Outside the service area on purpose', handling_minutes: 'Handling (min)', parent: 'Resupplied by',
  imp_title: 'Import a go-live file', imp_help: 'CSV (UTF-8) or xlsx, header in row 1. The file is checked first; nothing is written until every cell is right. The same file twice is imported once.',
  imp_kind: 'Kind', imp_file: 'File', imp_check: 'Check (dry run)', imp_commit: 'Import', imp_clean: 'Every row is valid.',
  imp_kind_opening_stock: 'Opening stock', imp_kind_items: 'Items', imp_kind_warehouses: 'Warehouses', imp_kind_reserve_levels: 'Reserve levels',
  imp_rows: 'Rows', imp_created: 'New', imp_updated: 'Changed', imp_unchanged: 'Unchanged', imp_total_qty: 'Units', imp_replayed: 'Already imported',
  imp_replayed_help: 'This file was imported before; nothing was written again.', imp_done: 'Imported {n} rows.',
  imp_row: 'Row', imp_cell: 'Cell', imp_column: 'Column', imp_bad_cells: '{n} bad cells; nothing was written',
  warehouse: 'Warehouse', item: 'Item', sku: 'SKU', lot: 'Lot', lot_code: 'Lot code',
  expires_on: 'Expiry', on_hand: 'On hand', reserved: 'Reserved', available: 'Available',
  status: 'Status', category: 'Category', all: 'All', qty: 'Quantity', unit: 'Unit',
  search: 'Search', load_more: 'Load more', by_lot: 'By lot', by_item: 'By item', view: 'View',
  expiring_within_days: 'Expiring within (days)', lots: 'Lots', none_found: 'Nothing found.',
  expired: 'Expired', expires_in: 'Expires in {n} d', expires_today: 'Expires today', no_expiry: 'No expiry',
  fresh: 'OK', quarantined: 'Quarantined', available_status: 'Available',
  stock_title: 'Stock', expiry_title: 'Expiry profile: quantity expiring per month, by category',
  months_ahead: 'Months ahead', chart_table: 'Data table', month: 'Month', total: 'Total',
  alerts_title: 'Alerts', kind: 'Kind', detail: 'Detail',
  receive_title: 'Receive stock', scan: 'Scan GS1 barcode (keyboard wedge, then Enter)',
  decode: 'Decode', gtin: 'GTIN', production_date: 'Production date', source: 'Source',
  supplier: 'Supplier', donor: 'Donor', donor_name: 'Supplier or donor name', transfer: 'Transfer', note: 'Note',
  quarantine_flag: 'Receive as quarantined', confirm_receipt: 'Confirm receipt',
  received: 'Received {qty} of {sku}, lot {lot}.', decoded: 'Scan decoded. Check the fields and confirm the quantity.',
  issue_title: 'Issue stock (FEFO)', reason: 'Reason', suggest: 'Suggest lots (FEFO)', issue: 'Issue',
  issued: 'Issued.', reserves_title: 'Reserve levels', reserves_help: 'The stock of an item that ordinary allocation must leave in a warehouse; only critical requests may go below it. 0 means no level.', min_qty: 'Reserve level', saved_levels_button: 'Save changed levels', saved_levels: 'Saved {n} levels.', nothing_changed: 'Nothing changed.', adjust_title: 'Adjust or write off stock', write_off: 'Write off', adjust: 'Adjust', change: 'Change', decrease: 'Decrease (write off)', increase: 'Increase (found)', adjusted: 'Adjusted {lot}: {on_hand} on hand.', ar_damaged: 'damaged', ar_lost: 'lost', ar_found: 'found', ar_expired: 'expired', ar_count_correction: 'count correction', ar_other: 'other (say in the note)', suggestion: 'First-expiry-first-out suggestion', shortfall: 'Shortfall',
  transfers_title: 'Transfers', from: 'From', to: 'To', create_transfer: 'Send transfer',
  in_transit: 'In transit', receive: 'Receive', cancel: 'Cancel', received_qty: 'Received qty', shipped: 'Shipped', delivery_note: 'What happened (required if anything is missing)',
  discrepancy: 'Discrepancy', short: 'short', damaged: 'damaged', other_reason: 'other (say in the note)', transfer_sent: 'Transfer sent.',
  quarantine_title: 'Quarantine and release', quarantine: 'Quarantine', release: 'Release', done: 'Done.',
  counts_title: 'Blind cycle counts', open_count: 'Open count', skus_optional: 'SKUs (comma-separated, empty = whole warehouse)',
  counted: 'Counted', save_lines: 'Save counted lines', post_count: 'Post count', cancel_count: 'Cancel count', cancel_reason: 'Reason for cancelling', count_cancelled: 'Count cancelled: nothing was booked, and its lots can be counted again.', count_open: 'Count {id} is open: enter what you count. Expected quantities are hidden (blind count).',
  map_title: 'Dispatch map', stock_of: 'Size warehouses by available', incidents: 'Incidents',
  closures: 'Active closures', draw_closure: 'Draw closure polygon', pick_edges: 'Click roads to close',
  new_incident: 'Click map for new incident', finish_polygon: 'Finish polygon', clear: 'Clear',
  closure_name: 'Closure name', create_closure: 'Close roads', end_closure: 'End closure',
  selected_edges: 'Selected roads', polygon_points: 'Polygon points', name: 'Name',
  incident_kind: 'Kind', lat: 'Latitude', lon: 'Longitude', population: 'Population affected',
  create_incident: 'Open incident', affected_area: 'Affected area', draw_area: 'Draw affected area',
  incident: 'Incident', days: 'Days', needs_estimate: 'Estimate needs', priority: 'Priority',
  needed_by: 'Needed by', include_affected: 'Include warehouses inside the affected area',
  add_line: 'Add line', remove: 'Remove', preview: 'Preview plan', reserve: 'Reserve',
  dispatch: 'Dispatch', deliver: 'Confirm delivery', replan: 'Replan', picks: 'Picks',
  eta: 'ETA (min)', distance: 'Distance (km)', late: 'Late', explanation: 'Warehouses not used',
  requested: 'Requested', request: 'Request', requests_title: 'Allocation requests', shipment_id: 'Shipment id', find_shipment: 'Find shipment', shipments: 'Shipments',
  state_open: 'open', state_closed: 'closed', state_trucks_banned: 'no trucks', legend: 'Legend',
  road_open: 'Road open', road_closed: 'Road closed (dashed)', road_no_trucks: 'No trucks (dotted)',
  route: 'Planned route', warehouse_marker: 'Warehouse (area ∝ available)', incident_marker: 'Incident',
  audit_title: 'Audit events', actor: 'Actor', entity: 'Entity', action: 'Action', seq: 'Seq', time: 'Time',
  filter: 'Filter', verify: 'Verify chain', chain_ok: 'Chain intact', chain_broken: 'Chain broken',
  events_checked: 'Events checked', first_broken_seq: 'First broken seq',
  exports_title: 'Exports', export_kind: 'Export', format: 'Format', bom: 'Add BOM (Excel, Chinese text)',
  hxl: 'Add HXL hashtag row', at: 'At', download: 'Download', downloaded: 'Downloaded {name} ({bytes} bytes).',
  asof_title: 'Stock as of a date', show: 'Show', rows: '{n} rows', summary: 'Summary',
  group_by: 'Group by', city: 'City', in_transit_qty: 'In transit',
  movements: 'Movements', audit_events: 'Audit events', stock_as_of: 'Stock as of', requests_export: 'Requests',
  kind_typhoon: 'typhoon', kind_flood: 'flood', kind_rainstorm: 'rainstorm', kind_landslide: 'landslide', kind_fire: 'fire',
  kind_earthquake: 'earthquake', kind_epidemic: 'epidemic', kind_other: 'other',
  prio_critical: 'critical', prio_high: 'high', prio_normal: 'normal',
  rs_reserved: 'reserved', rs_partially_reserved: 'partially reserved', rs_unfilled: 'unfilled', rs_dispatched: 'dispatched',
  rs_delivered: 'delivered', rs_cancelled: 'cancelled', rs_in_transit: 'in transit',
  signed_in_as: '{name} ({role})', saved: 'Saved.', posted: 'Count posted.', lines: 'Lines',
  plan_status: 'Plan status', date: 'Date', cancelled: 'Cancelled.', dispatched: 'Dispatched.',
  delivered: 'Delivered.', reserved_ok: 'Reserved: {status}.', closure_created: 'Roads closed.',
  incident_created: 'Incident opened.', select_incident: 'Choose an incident', none: 'none',
  api_missing: 'This part of the API is not available yet on this server.', roads_closed: 'road(s) closed', close: 'Close', stock_card: 'Stock card', quarantined_qty: 'Quarantined', expiring_soon: 'Expiring soon', city_key: 'City',
};

const zh = {
  brand: '应急物资储备', skip: '跳到内容', language: '语言', sign_out: '退出',
  sign_in: '登录', username: '用户名', password: '密码', loading: '加载中…', error: '错误',
  not_allowed: '您的角色无权打开此页面。', not_found: '没有此页面。',
  role_clerk: '仓管员', role_dispatcher: '调度员', role_auditor: '审计员', role_admin: '管理员',
  nav_stock: '库存', nav_expiry: '效期分布', nav_alerts: '预警', nav_receive: '入库',
  nav_issue: '出库', nav_adjust: '调整', nav_reserves: '储备下限', nav_transfers: '调拨', nav_quarantine: '隔离', nav_counts: '盘点',
  nav_map: '地图', nav_requests: '调配申请', nav_audit: '审计事件', nav_exports: '导出',
  nav_asof: '历史库存', nav_movements: '库存流水', nav_import: '导入', nav_items: '物资目录', nav_warehouses: '仓库',
  md_items_title: '物资目录', md_items_help: '每种物资可有多个商品条码（用 ; 分隔）。停用的物资不再入库或申请；其库存保留，仍可出库。修改保质期规则不会改变已有批次的有效期。',
  md_warehouses_title: '仓库', md_warehouses_help: '坐标为 WGS84，须在服务区域内，除非勾选例外。位置变更在下一次方案中生效。仓库编码不可修改。',
  md_new: '新建', md_new_item: '新建物资', md_edit_item: '编辑物资 {sku}', md_new_warehouse: '新建仓库', md_edit_warehouse: '编辑仓库 {code}',
  md_retire: '停用', md_reactivate: '恢复', md_retired: '已停用 {sku}。', md_reactivated: '已恢复 {sku}。', md_saved: '已保存 {code}。',
  md_status_active: '在用', md_status_retired: '已停用', md_status_inactive: '停用',
  name_zh: '中文名称', name_en: '英文名称', unit_zh: '中文单位', unit_en: '英文单位', spec: '规格', gtins: '商品条码',
  shelf_life_days: '保质期（天）', min_remaining_days: '最短剩余天数', alert_days: '预警（天）', storage_class: '储存条件',
  sc_ambient: '常温', sc_cool: '冷藏（2–8 °C）', sc_frozen: '冷冻', save: '保存', edit: '编辑', code: '编码', district: '区县', tier: '层级',
  tier_regional_centre: '区域中心', tier_city: '市级', tier_district: '区级', tier_community: '社区储备点', tier_agreement: '协议储备',
  outside_service_area: '有意设在服务区域外', handling_minutes: '装卸（分钟）', parent: '补给来源',
  imp_title: '导入上线数据', imp_help: 'CSV（UTF-8）或 xlsx，第 1 行为表头。先校验整个文件；所有单元格无误后才会写入。同一文件只会导入一次。',
  imp_kind: '类型', imp_file: '文件', imp_check: '校验（试运行）', imp_commit: '导入', imp_clean: '所有行均有效。',
  imp_kind_opening_stock: '期初库存', imp_kind_items: '物资', imp_kind_warehouses: '仓库', imp_kind_reserve_levels: '储备下限',
  imp_rows: '行数', imp_created: '新增', imp_updated: '修改', imp_unchanged: '未变', imp_total_qty: '数量', imp_replayed: '已导入过',
  imp_replayed_help: '此文件已导入过，未再次写入。', imp_done: '已导入 {n} 行。',
  imp_row: '行', imp_cell: '单元格', imp_column: '列', imp_bad_cells: '{n} 个单元格有误，未写入任何数据',
  warehouse: '仓库', item: '物资', sku: '编码', lot: '批次', lot_code: '批号',
  expires_on: '有效期至', on_hand: '在库', reserved: '已预留', available: '可用',
  status: '状态', category: '类别', all: '全部', qty: '数量', unit: '单位',
  search: '查询', load_more: '加载更多', by_lot: '按批次', by_item: '按物资', view: '视图',
  expiring_within_days: '临期天数内', lots: '批次', none_found: '没有记录。',
  expired: '已过期', expires_in: '{n} 天后过期', expires_today: '今天过期', no_expiry: '无效期',
  fresh: '正常', quarantined: '已隔离', available_status: '可用',
  stock_title: '库存', expiry_title: '效期分布：按月、按类别的到期数量',
  months_ahead: '未来月数', chart_table: '数据表', month: '月份', total: '合计',
  alerts_title: '预警', kind: '类型', detail: '详情',
  receive_title: '入库', scan: '扫描 GS1 条码（扫码枪输入后回车）',
  decode: '解码', gtin: 'GTIN', production_date: '生产日期', source: '来源',
  supplier: '供应商', donor: '捐赠', donor_name: '供应商或捐赠方', transfer: '调拨', note: '备注',
  quarantine_flag: '入库即隔离', confirm_receipt: '确认入库',
  received: '已入库 {sku} 批次 {lot}，数量 {qty}。', decoded: '条码已解码，请核对并确认数量。',
  issue_title: '出库（先到期先出）', reason: '原因', suggest: '推荐批次（先到期先出）', issue: '出库',
  issued: '已出库。', reserves_title: '储备下限', reserves_help: '一般调配必须在仓库中保留的物资数量；只有紧急（critical）申请可以动用。0 表示不设下限。', min_qty: '储备下限', saved_levels_button: '保存修改', saved_levels: '已保存 {n} 项。', nothing_changed: '没有修改。', adjust_title: '库存调整与报废', write_off: '报废', adjust: '调整', change: '变动', decrease: '减少（报废）', increase: '增加（盘盈）', adjusted: '已调整 {lot}：现存 {on_hand}。', ar_damaged: '损坏', ar_lost: '丢失', ar_found: '找回', ar_expired: '过期', ar_count_correction: '盘点更正', ar_other: '其他（请在备注中说明）', suggestion: '先到期先出推荐', shortfall: '缺口',
  transfers_title: '调拨', from: '调出', to: '调入', create_transfer: '发出调拨',
  in_transit: '在途', receive: '接收', cancel: '取消', received_qty: '实收数量', shipped: '发运', delivery_note: '情况说明（有短缺时必填）',
  discrepancy: '差异', short: '短少', damaged: '损坏', other_reason: '其他（请在备注中说明）', transfer_sent: '调拨已发出。',
  quarantine_title: '隔离与解除', quarantine: '隔离', release: '解除隔离', done: '完成。',
  counts_title: '盲盘', open_count: '开始盘点', skus_optional: '编码（逗号分隔，留空为整仓）',
  counted: '实盘', save_lines: '保存盘点数', post_count: '过账', cancel_count: '取消盘点', cancel_reason: '取消原因', count_cancelled: '盘点已取消：未记账，相关批次可重新盘点。', count_open: '盘点 {id} 已开始：请录入实盘数量。账面数量不显示（盲盘）。',
  map_title: '调度地图', stock_of: '按可用量显示仓库', incidents: '事件',
  closures: '生效中的封闭', draw_closure: '绘制封闭区域', pick_edges: '点击道路封闭',
  new_incident: '点击地图新建事件', finish_polygon: '完成多边形', clear: '清除',
  closure_name: '封闭名称', create_closure: '封闭道路', end_closure: '结束封闭',
  selected_edges: '已选道路', polygon_points: '多边形顶点', name: '名称',
  incident_kind: '类型', lat: '纬度', lon: '经度', population: '受影响人口',
  create_incident: '新建事件', affected_area: '受影响区域', draw_area: '绘制受影响区域',
  incident: '事件', days: '天数', needs_estimate: '估算需求', priority: '优先级',
  needed_by: '需要送达时间', include_affected: '包括受影响区域内的仓库',
  add_line: '添加行', remove: '删除', preview: '预览方案', reserve: '预留',
  dispatch: '发运', deliver: '确认送达', replan: '重新规划', picks: '拣货',
  eta: '预计到达（分钟）', distance: '距离（公里）', late: '迟到', explanation: '未使用的仓库',
  requested: '申请量', request: '申请', requests_title: '调配申请', shipment_id: '运单号', find_shipment: '查找运单', shipments: '运单',
  state_open: '通行', state_closed: '封闭', state_trucks_banned: '禁止货车', legend: '图例',
  road_open: '道路通行', road_closed: '道路封闭（虚线）', road_no_trucks: '禁止货车（点线）',
  route: '规划路线', warehouse_marker: '仓库（面积∝可用量）', incident_marker: '事件',
  audit_title: '审计事件', actor: '操作人', entity: '对象', action: '操作', seq: '序号', time: '时间',
  filter: '筛选', verify: '校验链', chain_ok: '链完整', chain_broken: '链已损坏',
  events_checked: '已校验事件', first_broken_seq: '首个损坏序号',
  exports_title: '导出', export_kind: '导出内容', format: '格式', bom: '添加 BOM（Excel 中文）',
  hxl: '添加 HXL 标签行', at: '时间点', download: '下载', downloaded: '已下载 {name}（{bytes} 字节）。',
  asof_title: '指定时间的库存', show: '显示', rows: '{n} 行', summary: '汇总',
  group_by: '分组', city: '城市', in_transit_qty: '在途',
  movements: '库存流水', audit_events: '审计事件', stock_as_of: '历史库存', requests_export: '调配申请',
  kind_typhoon: '台风', kind_flood: '洪水', kind_rainstorm: '暴雨', kind_landslide: '滑坡', kind_fire: '火灾',
  kind_earthquake: '地震', kind_epidemic: '疫情', kind_other: '其他',
  prio_critical: '紧急', prio_high: '高', prio_normal: '一般',
  rs_reserved: '已预留', rs_partially_reserved: '部分预留', rs_unfilled: '未满足', rs_dispatched: '已发运',
  rs_delivered: '已送达', rs_cancelled: '已取消', rs_in_transit: '在途',
  signed_in_as: '{name}（{role}）', saved: '已保存。', posted: '盘点已过账。', lines: '明细',
  plan_status: '方案状态', date: '日期', cancelled: '已取消。', dispatched: '已发运。',
  delivered: '已送达。', reserved_ok: '已预留：{status}。', closure_created: '道路已封闭。',
  incident_created: '事件已创建。', select_incident: '选择事件', none: '无',
  api_missing: '此服务器尚未提供该接口。', roads_closed: '条道路封闭', close: '关闭', stock_card: '库存卡', quarantined_qty: '隔离', expiring_soon: '临期', city_key: '城市',
};

const dicts = { en, zh };
let current = localStorage.getItem(LANG_KEY) === 'zh' ? 'zh' : 'en';

export function lang() { return current; }

export function setLang(l) {
  current = l === 'zh' ? 'zh' : 'en';
  localStorage.setItem(LANG_KEY, current);
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en';
}

/** The string for `key` in the current language, with `{name}` placeholders filled. */
export function t(key, vars) {
  let s = dicts[current][key] ?? en[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, v);
  return s;
}

/** A coded value (`prefix_value` in the dictionary) in the current language, or the value. */
export function tv(prefix, value) {
  const key = `${prefix}_${value}`;
  return dicts[current][key] ?? en[key] ?? String(value ?? '');
}

/** The name of an item, warehouse or category in the current language. */
export function nameOf(obj, base = 'name') {
  if (!obj) return '';
  const zhName = obj[`${base}_zh`] ?? obj.item_name_zh;
  const enName = obj[`${base}_en`] ?? obj.item_name_en;
  return (current === 'zh' ? zhName || enName : enName || zhName) || obj.code || obj.sku || '';
}

/** Fills every `[data-i18n]` element's text. */
export function translateStatic(root = document) {
  root.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
}

setLang(current);
