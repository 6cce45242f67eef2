"""All user-facing text of geosurvey (maps, run and demo progress, reports), in English (``en``) and
Japanese (``ja``): the one language table.

``TEXT[lang][key]`` is a plain string; a few contain ``str.format`` fields (named in braces).
Both languages have exactly the same keys (a test checks it). Data values (area names, commodity
codes, party codes) are not translated here: they are shown as the data give them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Literal, get_args

from geosurvey.errors import InputError

__all__ = ["JAPANESE_FONTS", "LANGUAGES", "TEXT", "Language", "check_lang", "japanese_font"]

Language = Literal["en", "ja"]
LANGUAGES: tuple[str, ...] = get_args(Language)

_EN = {
    "title": "Prospectivity map",
    "score": "Prospectivity score",
    "score_hint": "higher is more prospective",
    "nodata": "no data (transparent)",
    "downsampled": "shown {factor}× coarser than the data grid (at most {max_pixels} px a side)",
    "area": "Survey area",
    "faults": "Faults",
    "occurrences": "Known occurrences",
    "survey_areas": "Survey areas (registry)",
    "evidence": "Evidence: {name}",
    "name": "Name",
    "name_en": "Name (English)",
    "name_ja": "Name (Japanese)",
    "commodity": "Commodity",
    "commodities": "Commodities",
    "deposit_type": "Deposit type",
    "kind": "Type",
    "deposit_models": "Deposit models",
    "region": "Region",
    "area_km2": "Area",
    "km2": "km²",
    "status": "Status",
    "status_proposed": "Proposed",
    "status_agreed": "Agreed",
    "status_amended": "Amended (needs re-approval)",
    "status_withdrawn": "Withdrawn",
    "status_closed": "Closed",
    "approvals": "Approvals",
    "party": "Party",
    "date": "Date",
    "approval_valid": "valid",
    "approval_stale": "stale (earlier version)",
    "approval_invalid": "invalid signature",
    "no_approvals": "none yet",
    "pending_parties": "Awaiting approval from",
    "basemap": "Basemap",
    "zoom_in": "Zoom in",
    "zoom_out": "Zoom out",
    "made_with": "Made with geosurvey",
    # -- batch runner (geosurvey.runner.batch, issue 14) --
    "batch_start": "Batch of {jobs} runs ({areas} areas) on {dask}; outputs in {out_root}",
    "batch_dashboard": "Dask dashboard: {link}",
    "batch_progress": "areas",
    "batch_skip": "skipped: outputs complete, inputs and recipe unchanged",
    "batch_run": "running ({why})",
    "batch_done": "done in {s:.1f} s",
    "batch_failed": "failed: {reason}",
    "batch_retry": "transient error ({reason}); attempt {attempt} of {attempts} in {wait:.1f} s",
    "batch_summary": "{ok} succeeded, {skipped} skipped, {failed} failed, {interrupted} not finished",
    "batch_resume": "Re-run the same batch to resume; finished areas are skipped.",
    "batch_col_area": "area",
    "batch_col_recipe": "recipe",
    "batch_col_status": "status",
    "batch_col_time": "time s",
    "batch_col_auc": "ROC AUC",
    "batch_col_outputs": "outputs",
    "batch_status_ok": "ok",
    "batch_status_skipped": "skipped",
    "batch_status_failed": "failed",
    "batch_status_interrupted": "interrupted",
    "batch_why_new": "no earlier run",
    "batch_why_unfinished": "the earlier run did not finish",
    "batch_why_area": "the area changed",
    "batch_why_recipe": "the recipe changed",
    "batch_why_parameters": "the parameters changed",
    "batch_why_inputs": "inputs changed: {names}",
    "batch_why_outputs": "outputs missing or changed: {names}",
    # -- end of batch runner block --
    # -- web maps and portal (geosurvey.publish, issue 13) --
    "uncertainty": "Uncertainty",
    "targets": "Exploration targets",
    "layer_other": "Other layer",
    "opacity": "Opacity",
    "fullscreen": "Full screen",
    "fullscreen_exit": "Exit full screen",
    "measure": "Measure a distance: click points on the map, then click this button again",
    "measure_distance": "Distance: {distance}",
    "measure_start": "click the map to add points",
    "coordinates": "Cursor position",
    "lat": "Lat",
    "lon": "Lon",
    "swipe": "Compare two layers side by side",
    "swipe_left": "Left",
    "swipe_right": "Right",
    "swipe_position": "Divider position",
    "swipe_off": "Close the comparison",
    "tiled": "tiles: zoom in for the full resolution",
    "no_basemap": "No base map",
    "basemap_osm": "OpenStreetMap",
    "basemap_gsi": "GSI standard map (Japan)",
    "basemap_usgs": "USGS National Map (topographic)",
    "basemap_esri": "Esri World Imagery",
    "attribution_osm": "© OpenStreetMap contributors",
    "attribution_gsi": "Geospatial Information Authority of Japan (GSI tiles)",
    "attribution_usgs": "U.S. Geological Survey, The National Map",
    "attribution_esri": "Esri, Maxar, Earthstar Geographics, and the GIS User Community",
    "value": "Value",
    "cluster": "{count} occurrences: zoom in",
    "portal_title": "Survey areas: results portal",
    "portal_intro": "Every agreed or proposed survey area, its status and the published results.",
    "overview": "Overview map",
    "col_area": "Survey area",
    "col_status": "Status",
    "col_commodities": "Commodities",
    "col_parties": "Parties",
    "col_results": "Results",
    "link_map": "Map",
    "link_details": "Results and downloads",
    "not_run": "no published run",
    "back": "All survey areas",
    "downloads": "Downloads",
    "download_score": "Prospectivity score (COG)",
    "download_layer": "Layer {name} (COG)",
    "download_report": "Report (JSON)",
    "download_manifest": "Run manifest (JSON)",
    "download_targets": "Targets (GeoPackage)",
    "download_catalog": "Output STAC catalogue",
    "plots": "Evaluation",
    "plot_success": "Success-rate curve",
    "plot_roc": "ROC curve",
    "plot_capture": "Capture efficiency",
    "axis_area": "share of the area, highest score first",
    "axis_captured": "share of known occurrences captured",
    "axis_fpr": "false positive rate",
    "axis_tpr": "true positive rate",
    "axis_top": "top share of the area",
    "random": "random",
    "roc_auc": "ROC AUC",
    "recipe": "Recipe",
    "method": "Method",
    "generated": "Generated with geosurvey {version}",
    "lang_switch": "日本語",
    "file": "File",
    "size": "Size",
    "notes": "Notes",
    "proposer": "Proposed by",
    "col_layer": "Evidence layer",
    "col_units": "Units",
    "col_why": "Why it matters",
    # -- end of web maps and portal block --
    # -- run and demo (geosurvey.runner.run, geosurvey.demo; issue 8) --
    "run_stage": "[{i}/{n}] {name}",
    "run_done": "      done in {s:.1f} s",
    "run_stage_area": "survey area (registry, approvals)",
    "run_stage_search": "catalogue search",
    "run_stage_load": "load onto the area's grid (odc-stac, Dask)",
    "run_stage_evidence": "evidence layers (computed once)",
    "run_stage_score": "prospectivity score ({method})",
    "run_stage_evaluate": "evaluation against the occurrences",
    "run_stage_publish": "outputs (COGs, report, manifest, web map, STAC)",
    "demo_stage_data": "demo data (synthetic survey, registry approval, static STAC catalogue)",
    "run_summary": "Survey area {area} ({status}), recipe {recipe}: ROC AUC {auc:.3f}; "
    "occurrences in the top 5/10/20% of the area: {c5:.0%} / {c10:.0%} / {c20:.0%} "
    "({n} occurrences on the grid)",
    "run_best_layer": "Best single layer: {layer}, ROC AUC {auc:.3f}",
    "run_outputs": "Web map: {map}\nScore COG: {cog}\nReport: {report}",
    "not_agreed": "NOT AGREED",
    "not_agreed_note": "NOT AGREED: survey area {area} is {status}; awaiting approval from {pending}",
    "flat_score": "the score is flat ({value:.4g}) over {share:.0%} of the valid area; memberships "
    "at 0 or 1 there: {layers}",
    "demo_title_suffix": "DEMO (synthetic data)",
    # -- end of run and demo block --
    # -- evaluation plots and targets (geosurvey.evaluation, prospectivity.targets; issue 10) --
    "eval_random": "Random (no skill)",
    "eval_success_rate": "Success rate (training occurrences)",
    "eval_prediction_rate": "Prediction rate (held-out occurrences)",
    "eval_auc": "AUC {auc:.3f}",
    "eval_auc_ci": "({pct}% CI {lo:.3f}–{hi:.3f})",
    "eval_area_fraction": "Fraction of the area (highest scores first)",
    "eval_captured": "Fraction of occurrences captured",
    "eval_rate_title": "Success- and prediction-rate curves",
    "eval_pa_title": "Prediction–area plot",
    "eval_pa_threshold": "Score threshold",
    "eval_pa_predicted": "Occurrences predicted (%)",
    "eval_pa_area": "Area occupied (%)",
    "eval_pa_intersection": "{occ:.0f}% of occurrences in {area:.0f}% of the area (density {nd:.1f})",
    "target_rank": "Rank",
    "target_area": "Area (km²)",
    "target_mean_score": "Mean score",
    "target_max_score": "Maximum score",
    "target_occurrences": "Occurrences inside",
    "target_evidence": "Evidence raising it most",
    # -- recipe library (geosurvey recipe list/show, recipes_for; issue 12) --
    "recipe_auto_reason": "recipe {recipe} serves deposit model {models} of area {area}",
    "recipe_auto_none": "no shipped recipe serves the deposit models of area {area} ({models}); "
    "the shipped recipes serve: {served}; give a recipe of your own (a .toml file) for this system",
    "recipe_auto_no_models": "survey area {area} names no deposit models, so no recipe can be "
    "picked for it; name a recipe, or amend the area's deposit models",
    "recipe_col_id": "recipe",
    "recipe_col_models": "deposit models",
    "recipe_col_method": "method",
    "recipe_col_layers": "layers",
    "recipe_col_title": "title",
    "recipe_title": "Recipe",
    "recipe_method": "Method",
    "recipe_models": "Deposit models",
    "recipe_commodities": "Commodities",
    "recipe_description": "Description",
    "recipe_layers": "Evidence layers",
    "recipe_from": "from",
    "recipe_units": "units",
    "recipe_steps": "steps",
    "recipe_membership": "membership",
    "recipe_why": "why",
    "recipe_catalogues": "catalogues",
    "recipe_no_catalogue": "no catalogue definition (a partner must ingest it)",
    "recipe_features": "vector features given to the run",
    "recipe_criteria": "Mappable criteria",
    "recipe_stage_source": "source",
    "recipe_stage_pathway": "pathway",
    "recipe_stage_trap": "trap",
    "recipe_stage_preservation": "preservation",
    "recipe_stage_modifier": "modifier",
    "recipe_references": "References",
    "recipe_file": "File",
    # -- end of recipe library block --
}

_JA = {
    "title": "鉱床有望度マップ",
    "score": "有望度スコア",
    "score_hint": "値が高いほど有望",
    "nodata": "データなし（透明）",
    "downsampled": "データ格子の{factor}倍の粗さで表示（一辺最大{max_pixels}ピクセル）",
    "area": "調査地域",
    "faults": "断層",
    "occurrences": "既知の鉱床・鉱徴地",
    "survey_areas": "調査地域（登録簿）",
    "evidence": "証拠図：{name}",
    "name": "名称",
    "name_en": "名称（英語）",
    "name_ja": "名称（日本語）",
    "commodity": "鉱種",
    "commodities": "対象鉱種",
    "deposit_type": "鉱床タイプ",
    "kind": "種別",
    "deposit_models": "鉱床モデル",
    "region": "国・地域",
    "area_km2": "面積",
    "km2": "km²",
    "status": "状態",
    "status_proposed": "提案中",
    "status_agreed": "合意済み",
    "status_amended": "変更あり（再承認が必要）",
    "status_withdrawn": "取り下げ",
    "status_closed": "終了",
    "approvals": "承認",
    "party": "当事者",
    "date": "日付",
    "approval_valid": "有効",
    "approval_stale": "失効（旧版への承認）",
    "approval_invalid": "署名が無効",
    "no_approvals": "まだなし",
    "pending_parties": "承認待ちの当事者",
    "basemap": "背景地図",
    "zoom_in": "拡大",
    "zoom_out": "縮小",
    "made_with": "geosurvey で作成",
    # -- batch runner (geosurvey.runner.batch, issue 14) --
    "batch_start": "{areas} 地域・{jobs} 件の一括実行（{dask}）、出力先 {out_root}",
    "batch_dashboard": "Dask ダッシュボード: {link}",
    "batch_progress": "地域",
    "batch_skip": "スキップ: 出力は完全で、入力とレシピに変更なし",
    "batch_run": "実行中（{why}）",
    "batch_done": "{s:.1f} 秒で完了",
    "batch_failed": "失敗: {reason}",
    "batch_retry": "一時的なエラー（{reason}）、{wait:.1f} 秒後に再試行（{attempt}/{attempts} 回目）",
    "batch_summary": "成功 {ok} 件、スキップ {skipped} 件、失敗 {failed} 件、未完了 {interrupted} 件",
    "batch_resume": "同じ一括実行をもう一度実行すると再開します（完了した地域はスキップされます）。",
    "batch_col_area": "地域",
    "batch_col_recipe": "レシピ",
    "batch_col_status": "状態",
    "batch_col_time": "時間（秒）",
    "batch_col_auc": "ROC AUC（曲線下面積）",
    "batch_col_outputs": "出力",
    "batch_status_ok": "成功",
    "batch_status_skipped": "スキップ",
    "batch_status_failed": "失敗",
    "batch_status_interrupted": "中断",
    "batch_why_new": "以前の実行なし",
    "batch_why_unfinished": "以前の実行が完了していない",
    "batch_why_area": "調査地域が変更された",
    "batch_why_recipe": "レシピが変更された",
    "batch_why_parameters": "パラメータが変更された",
    "batch_why_inputs": "入力が変更された: {names}",
    "batch_why_outputs": "出力が欠けているか変更された: {names}",
    # -- end of batch runner block --
    # -- web maps and portal (geosurvey.publish, issue 13) --
    "uncertainty": "不確実性",
    "targets": "探査ターゲット",
    "layer_other": "その他のレイヤー",
    "opacity": "不透明度",
    "fullscreen": "全画面表示",
    "fullscreen_exit": "全画面表示を終了",
    "measure": "距離を測る：地図上の地点をクリックし、もう一度このボタンを押して終了",
    "measure_distance": "距離：{distance}",
    "measure_start": "地図をクリックして地点を追加",
    "coordinates": "カーソル位置",
    "lat": "緯度",
    "lon": "経度",
    "swipe": "2つのレイヤーを左右に並べて比較",
    "swipe_left": "左",
    "swipe_right": "右",
    "swipe_position": "境界の位置",
    "swipe_off": "比較を閉じる",
    "tiled": "タイル表示：拡大すると元の解像度で表示",
    "no_basemap": "背景地図なし",
    "basemap_osm": "オープンストリートマップ",
    "basemap_gsi": "地理院地図（標準地図）",
    "basemap_usgs": "米国地質調査所 国土地図（地形図）",
    "basemap_esri": "Esri 世界衛星画像",
    "attribution_osm": "© OpenStreetMap の貢献者",
    "attribution_gsi": "国土地理院（地理院タイル）",
    "attribution_usgs": "米国地質調査所（USGS）ナショナルマップ",
    "attribution_esri": "Esri、Maxar、Earthstar Geographics、GIS ユーザーコミュニティ",
    "value": "値",
    "cluster": "鉱床・鉱徴地 {count} 件：拡大して表示",
    "portal_title": "調査地域：成果ポータル",
    "portal_intro": "合意済み・提案中のすべての調査地域、その状態と公開された成果。",
    "overview": "全体図",
    "col_area": "調査地域",
    "col_status": "状態",
    "col_commodities": "対象鉱種",
    "col_parties": "当事者",
    "col_results": "成果",
    "link_map": "地図",
    "link_details": "成果とダウンロード",
    "not_run": "公開された解析なし",
    "back": "すべての調査地域",
    "downloads": "ダウンロード",
    "download_score": "有望度スコア（COG）",
    "download_layer": "レイヤー {name}（COG）",
    "download_report": "報告書（JSON）",
    "download_manifest": "実行マニフェスト（JSON）",
    "download_targets": "探査ターゲット（GeoPackage）",
    "download_catalog": "成果の STAC カタログ",
    "plots": "評価",
    "plot_success": "成功率曲線",
    "plot_roc": "ROC 曲線",
    "plot_capture": "捕捉効率",
    "axis_area": "面積の割合（スコアの高い順）",
    "axis_captured": "捕捉された既知鉱床の割合",
    "axis_fpr": "偽陽性率",
    "axis_tpr": "真陽性率",
    "axis_top": "面積の上位割合",
    "random": "ランダム",
    "roc_auc": "ROC 曲線下面積（AUC）",
    "recipe": "レシピ",
    "method": "手法",
    "generated": "geosurvey {version} で作成",
    "lang_switch": "English",
    "file": "ファイル",
    "size": "サイズ",
    "notes": "備考",
    "proposer": "提案者",
    "col_layer": "証拠レイヤー",
    "col_units": "単位",
    "col_why": "地質学的な根拠",
    # -- end of web maps and portal block --
    # -- run and demo (geosurvey.runner.run, geosurvey.demo; issue 8) --
    "run_stage": "[{i}/{n}] {name}",
    "run_done": "      {s:.1f} 秒で完了",
    "run_stage_area": "調査地域（登録簿、承認）",
    "run_stage_search": "カタログ検索",
    "run_stage_load": "調査地域の格子への読み込み（odc-stac、Dask）",
    "run_stage_evidence": "証拠レイヤー（一度だけ計算）",
    "run_stage_score": "有望度スコア（{method}）",
    "run_stage_evaluate": "既知鉱徴地による評価",
    "run_stage_publish": "出力（COG、レポート、マニフェスト、ウェブ地図、STAC）",
    "demo_stage_data": "デモデータ（合成調査、登録簿での承認、静的 STAC カタログ）",
    "run_summary": "調査地域 {area}（{status}）、レシピ {recipe}: ROC AUC {auc:.3f}、面積上位 "
    "5/10/20% に含まれる既知鉱徴地の割合: {c5:.0%} / {c10:.0%} / {c20:.0%}（格子内の鉱徴地 {n} 件）",
    "run_best_layer": "単独で最良のレイヤー: {layer}、ROC AUC {auc:.3f}",
    "run_outputs": "ウェブ地図: {map}\nスコア COG: {cog}\nレポート: {report}",
    "not_agreed": "未合意",
    "not_agreed_note": "未合意: 調査地域 {area} の状態は {status}、承認待ちの当事者: {pending}",
    "flat_score": "有効範囲の {share:.0%} でスコアが一定（{value:.4g}）です。そこで 0 または 1 に"
    "なるメンバーシップ: {layers}",
    "demo_title_suffix": "デモ（合成データ）",
    # -- end of run and demo block --
    # -- evaluation plots and targets (geosurvey.evaluation, prospectivity.targets; issue 10) --
    "eval_random": "ランダム（識別力なし）",
    "eval_success_rate": "成功率曲線（学習用の鉱床）",
    "eval_prediction_rate": "予測率曲線（検証用の鉱床）",
    "eval_auc": "AUC {auc:.3f}",
    "eval_auc_ci": "（{pct}%信頼区間 {lo:.3f}–{hi:.3f}）",
    "eval_area_fraction": "面積の割合（スコアの高い順）",
    "eval_captured": "含まれる鉱床の割合",
    "eval_rate_title": "成功率曲線と予測率曲線",
    "eval_pa_title": "予測–面積（P–A）プロット",
    "eval_pa_threshold": "スコアのしきい値",
    "eval_pa_predicted": "予測された鉱床（%）",
    "eval_pa_area": "占める面積（%）",
    "eval_pa_intersection": "面積の{area:.0f}%に鉱床の{occ:.0f}%（密度 {nd:.1f}）",
    "target_rank": "順位",
    "target_area": "面積（km²）",
    "target_mean_score": "平均スコア",
    "target_max_score": "最大スコア",
    "target_occurrences": "含まれる鉱床",
    "target_evidence": "寄与の大きい証拠図",
    # -- recipe library (geosurvey recipe list/show, recipes_for; issue 12) --
    "recipe_auto_reason": "レシピ {recipe} は調査地域 {area} の鉱床モデル {models} に対応します",
    "recipe_auto_none": "調査地域 {area} の鉱床モデル（{models}）に対応する同梱レシピはありません。"
    "同梱レシピが対応する鉱床モデル: {served}。この鉱床システム用のレシピ（.toml ファイル）を指定してください",
    "recipe_auto_no_models": "調査地域 {area} には鉱床モデルが指定されていないため、レシピを選べません。"
    "レシピを指定するか、調査地域の鉱床モデルを修正してください",
    "recipe_col_id": "レシピ",
    "recipe_col_models": "鉱床モデル",
    "recipe_col_method": "手法",
    "recipe_col_layers": "レイヤー数",
    "recipe_col_title": "名称",
    "recipe_title": "レシピ",
    "recipe_method": "手法",
    "recipe_models": "鉱床モデル",
    "recipe_commodities": "対象鉱種",
    "recipe_description": "概要",
    "recipe_layers": "証拠レイヤー",
    "recipe_from": "入力",
    "recipe_units": "単位",
    "recipe_steps": "処理",
    "recipe_membership": "メンバーシップ",
    "recipe_why": "根拠",
    "recipe_catalogues": "カタログ",
    "recipe_no_catalogue": "カタログ定義なし（パートナーによる取り込みが必要）",
    "recipe_features": "実行時に与えるベクターデータ",
    "recipe_criteria": "図示可能な基準",
    "recipe_stage_source": "起源",
    "recipe_stage_pathway": "経路",
    "recipe_stage_trap": "トラップ",
    "recipe_stage_preservation": "保存",
    "recipe_stage_modifier": "修飾要因",
    "recipe_references": "文献",
    "recipe_file": "ファイル",
    # -- end of recipe library block --
}

TEXT: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"en": MappingProxyType(_EN), "ja": MappingProxyType(_JA)}
)
"""UI strings per language: ``TEXT["ja"]["score"] == "有望度スコア"``."""


def check_lang(lang: object) -> Language:
    """Return ``lang`` if it is a supported language code, else raise :class:`InputError`."""
    if lang not in LANGUAGES:
        choices = ", ".join(repr(code) for code in LANGUAGES)
        raise InputError(f"unknown map language lang={lang!r}; choose one of {choices}")
    return lang  # type: ignore[return-value]


#: Font families that draw Japanese, in order of preference, and the files that hold them
#: (Debian's fonts-noto-cjk, fonts-ipaexfont, fonts-takao).
JAPANESE_FONTS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "Noto Sans CJK JP": ("NotoSansCJK-Regular", "NotoSansCJKjp-Regular"),
    "Noto Sans JP": ("NotoSansJP-Regular",),
    "IPAexGothic": ("ipaexg",),
    "IPAGothic": ("ipag",),
    "TakaoGothic": ("TakaoGothic",),
})  # fmt: skip

_FONT_LOCK = threading.Lock()


@functools.cache
def japanese_font() -> str | None:
    """The family of an installed font that draws Japanese in matplotlib plots, or ``None``.

    matplotlib keeps the fonts it found in a cache file and does not look again: a font
    installed after that (``geosurvey demo`` run before the Japanese font was installed) stays
    unseen, and Japanese plots would fall back to English. When none of
    :data:`JAPANESE_FONTS` is known to matplotlib, the system's font folders are searched for
    their files, which are registered (``fontManager.addfont``; the cache file is left as it is).
    Looked up once a process.
    """
    from matplotlib import font_manager

    def known() -> str | None:
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((family for family in JAPANESE_FONTS if family in names), None)

    with _FONT_LOCK:
        if (found := known()) is None:
            stems = tuple(stem for files in JAPANESE_FONTS.values() for stem in files)
            for path in font_manager.findSystemFonts():
                if Path(path).stem.startswith(stems):
                    font_manager.fontManager.addfont(path)
            found = known()
    return found
