"""Decoy model cards, written for these tests: each mentions carbon, CO2, emissions or energy without stating
the emissions or energy of training or running the model itself. None may produce a figure."""

from __future__ import annotations

_FRONT = "---\nlicense: {license}\nlibrary_name: transformers\ntags:\n- {tag}\n---\n"

_BODIES = [
    # climate-text classifiers
    ("climate-classifier", "text-classification",
     "# Climate claim detector\n\nA DistilRoBERTa model fine-tuned to tell whether a sentence talks about climate "
     "change, carbon emissions or renewable energy. Trained on {n} labelled paragraphs taken from corporate "
     "sustainability reports.\n\n| label | precision | recall |\n|---|---|---|\n| emissions | 0.{a} | 0.{b} |\n"
     "| energy | 0.{b} | 0.{a} |\n\nBatch size {m}, learning rate 2e-5, {e} epochs."),
    ("esg-qa", "question-answering",
     "# ESG report question answering\n\nExtracts answers from company reports. Example question: *What were the "
     "Scope 1 emissions in 2021?* Example answer from a report: `{n},000 tCO2e`.\n\nFine-tuned for {e} epochs on "
     "{m} question/answer pairs about greenhouse gas disclosures."),
    # datasets about emissions
    ("vehicle-co2", "tabular-regression",
     "# CO2 emissions of cars\n\nGradient boosting model trained on a public vehicle dataset. It predicts the CO2 "
     "emissions of a car ({n} g/km on average in the test set) from engine size and fuel consumption.\n\n"
     "MAE: {e}.{a} g/km"),
    ("grid-intensity", "time-series-forecasting",
     "# Grid carbon intensity forecaster\n\nForecasts the carbon intensity of the electricity grid for the next "
     "24 hours. Mean absolute error: {m} gCO2/kWh. The test period's average intensity was {n} g CO2 per kWh."),
    ("building-energy", "tabular-regression",
     "# Building energy use\n\nPredicts the yearly electricity consumption of office buildings. In the test set "
     "buildings used {n},{a}00 kWh per year on average; RMSE {m} kWh."),
    ("methane-plumes", "image-segmentation",
     "# Methane plume segmentation\n\nSegments methane plumes in satellite images and estimates the emission "
     "rate of each source. The largest plume in the validation set emitted about {n} kg/h; the model's error on "
     "emission rates is {e}0%."),
    ("forest-carbon", "image-to-image",
     "# Forest carbon stock mapping\n\nEstimates above-ground carbon stocks from satellite imagery: RMSE {m} t/ha "
     "against field plots holding {n} tonnes of carbon per hectare on average."),
    ("national-inventory", "text-generation",
     "# Emissions report summarizer\n\nSummarizes national greenhouse gas inventories. In the demo, the inventory "
     "reports {n} Mt CO2e for 2019 and a {e}% drop since 1990."),
    # energy in the physics or machine-learning sense
    ("energy-based", "image-classification",
     "# Energy-based model for CIFAR-10\n\nAn energy-based model trained with contrastive divergence. Energy "
     "function: {e} residual blocks, {m} channels; Langevin sampling with step size 0.{a} and {n} steps. The "
     "energy margin is {e}.0 and the energy regularization weight 0.{b}."),
    ("formation-energy", "graph-ml",
     "# Crystal formation energy\n\nPredicts the formation energy of inorganic crystals (eV/atom). MAE 0.0{a} eV "
     "on {n} carbon-containing materials; trained for {m} epochs."),
    ("catalyst", "graph-ml",
     "# CO2 reduction catalyst screening\n\nRanks candidate catalysts for electrochemical CO2 reduction by their "
     "adsorption energy. Binding energies range from -{e}.{a} eV to 0.{b} eV; {n} candidates screened."),
    ("molecular-dynamics", "graph-ml",
     "# Interatomic potential\n\nA neural potential predicting energies and forces. Energy MAE {a} meV/atom; force "
     "MAE {b} meV/Å. Trained on {n} configurations of amorphous carbon."),
    ("speech-energy", "audio-classification",
     "# Speech emotion (energy and pitch)\n\nUses frame energy and pitch features ({m} ms frames) to classify "
     "emotions. Accuracy {a}.{b}% on {n} clips."),
    # carbon or emissions in a name
    ("carbonbert", "fill-mask",
     "# CarbonBERT\n\nCarbonBERT-base: a BERT model pretrained on {n}M tokens of chemistry papers. {e} layers, "
     "hidden size 768, {m}k steps."),
    ("emission-tomography", "image-classification",
     "# PET lesion classifier\n\nClassifies positron emission tomography scans. Trained on {n} scans; "
     "AUC 0.{a}. Dose 3{e}0 MBq."),
    ("carbon-dating", "tabular-regression",
     "# Radiocarbon age estimation\n\nEstimates calibrated ages from carbon-14 measurements; error {m} years on "
     "{n} samples."),
    # other people's emissions quoted
    ("quote-strubell", "text-generation",
     "# Tiny GPT\n\nA small model. Large language models are costly: one study estimated that training a big "
     "transformer with architecture search emitted about 284 tonnes of CO2. We trained this {e}M model on a "
     "laptop instead (see the code for details).\n\nTraining data: {n} stories."),
    ("quote-bloom", "text-generation",
     "# Mini reproduction\n\nFor comparison, the BLOOM paper reports about 25 tonnes of CO2eq for its final "
     "training run. This reproduction has {m}M parameters and {e} layers."),
    # template placeholders around numbers
    ("template", "text-classification",
     "# Model Card for Model ID\n\n## Training Details\n\n- **Training regime:** fp16\n- epochs: {e}\n\n"
     "## Environmental Impact\n\n<!-- Total emissions (in grams of CO2eq) and additional considerations, such as "
     "electricity usage, that are relevant to the computation of the model's carbon footprint should be "
     "documented here. -->\n\nCarbon emissions can be estimated using the [Machine Learning Impact calculator]"
     "(https://mlco2.github.io/impact#compute) presented in [Lacoste et al. (2019)](https://arxiv.org/abs/"
     "1910.09700).\n\n- **Hardware Type:** [More Information Needed]\n- **Hours used:** [More Information Needed]\n"
     "- **Cloud Provider:** [More Information Needed]\n- **Compute Region:** [More Information Needed]\n"
     "- **Carbon Emitted:** [More Information Needed]\n\n## Results\n\nAccuracy {a}.{b}% after {n} steps."),
    ("template-tbd", "text-classification",
     "# Sentiment model\n\n## Environmental Impact\n\n- Hardware Type: {m} x T4\n- Hours used: TBD\n"
     "- Carbon Emitted: N/A\n\nSee the calculator of Lacoste et al. (2019) to estimate emissions.\n\n"
     "Validation accuracy: 0.{a}"),
    # energy as a task domain
    ("energy-news", "text-classification",
     "# Energy news topic classifier\n\nTags news about energy markets: oil, gas, coal, power. Trained on {n} "
     "articles; macro F1 0.{a}. Example: 'Coal plant output fell {e}% to {m} TWh last year.'"),
    # models about the emissions of other things, including other models
    ("training-co2-predictor", "tabular-regression",
     "# Training footprint predictor\n\nPredicts the emissions of a machine learning training run from its "
     "hardware and duration. For a job of {n} GPU hours on V100s in France it predicts about {e}.{a} kg CO2eq; "
     "its MAE on {m} logged jobs is 0.{b} kg."),
    ("recipe-footprint", "text-classification",
     "# Recipe carbon footprint\n\nEstimates the carbon footprint of a recipe from its ingredients, e.g. {e}.{a} kg "
     "CO2e per serving for a beef stew. Trained on {n} recipes."),
    ("energy-leaderboard", "text-generation",
     "# Chat model\n\nA {e}B chat model. For context, a public leaderboard lists other models of this size at "
     "about 0.{a} Wh per query; we have not measured ours.\n\nTrained on {n}k dialogues."),
    ("codecarbon-howto", "text-classification",
     "# Sentiment model\n\nTo track your own fine-tuning emissions, install codecarbon; its report has lines "
     "such as `emissions: 0.000{a} kg` and `energy_consumed: 0.00{b} kWh` for a short example run.\n\n"
     "Accuracy 0.{a}."),
    ("co2-concentration", "time-series-forecasting",
     "# CO2 concentration forecaster\n\nForecasts daily atmospheric CO2 concentrations; RMSE {e}.{a} ppm over "
     "{n} days."),
    ("solar-output", "image-segmentation",
     "# Rooftop solar segmentation\n\nSegments solar panels and estimates their energy output: {e}.{a} kWh per "
     "day for a typical {m} m² roof in the test set."),
    ("loss-weights", "image-classification",
     "# Contrastive model\n\nHyperparameters: energy loss weight 0.{a}, carbon_weight {e}, temperature 0.07, "
     "{m} epochs, batch size {n}."),
    ("emission-named", "text-generation",
     "# Emission-{e}B\n\nEmission-{e}B is a language model named after the spectral emission lines it was "
     "built to describe. {m} layers, trained for {e} epochs on {n}k spectra."),
    ("ev-range", "tabular-regression",
     "# EV consumption\n\nPredicts electric car energy consumption: {e}{a} kWh/100 km on average, MAE {b} "
     "Wh/km, from {n} trips."),
]

LICENSES = ("apache-2.0", "mit", "cc-by-4.0")


def decoy_cards(copies: int = 4) -> dict[str, str]:
    """Repo id -> card text: every decoy body `copies` times with other numbers (and a front matter)."""
    cards = {}
    for copy in range(copies):
        numbers = {"n": 120 + 37 * copy, "m": 16 + 8 * copy, "e": 2 + copy, "a": 81 + copy, "b": 73 + 2 * copy}
        for position, (name, tag, body) in enumerate(_BODIES):
            front = _FRONT.format(license=LICENSES[(position + copy) % 3], tag=tag) if copy % 2 == 0 else ""
            cards[f"decoy-org/{name}-{copy}"] = front + body.format(**numbers) + "\n"
    return cards
