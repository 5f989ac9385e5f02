"""Learn: Bayesian optimization shown by doing, and measured against random and grid search."""

import pandas as pd
import streamlit as st

from core import charts
from core.learn import BENCHMARKS, ONE_D, ComparisonJob, Playground
from core.options import ACQUISITION_LABELS
from pages.common.widgets import use_app_navigation

use_app_navigation()

st.title("Learn: how Bayesian optimization thinks")
st.caption(
    "The same optimizer the tuner uses, on functions that take no time to evaluate. "
    "Nothing here trains a network."
)

st.subheader("1. A playground in one dimension")
if "playground" not in st.session_state:
    st.session_state["playground"] = Playground()
pg: Playground = st.session_state["playground"]

c1, c2, c3, c4 = st.columns(4)
function = c1.selectbox(
    "Hidden function", list(ONE_D), index=list(ONE_D).index(pg.function), key="learn_function"
)
c1.caption(ONE_D[function][0])
acquisition = c2.radio(
    "Acquisition",
    list(ACQUISITION_LABELS),
    index=list(ACQUISITION_LABELS).index(pg.acquisition),
    format_func=ACQUISITION_LABELS.get,
    horizontal=True,
    key="learn_acq",
)
if acquisition == "ucb":
    kappa = c2.slider("κ (exploration)", 0.0, 10.0, float(pg.kappa), 0.1, key="learn_kappa")
    xi = pg.xi
else:
    xi = c2.slider("ξ (required margin)", 0.0, 0.5, float(pg.xi), 0.005, key="learn_xi")
    kappa = pg.kappa
noise = c3.select_slider(
    "Observation noise the GP assumes (α)",
    options=[None, 1e-6, 1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1],
    value=pg.noise,
    format_func=lambda a: "fitted (the tuner's default)" if a is None else f"{a:g}",
    key="learn_noise",
    help="Fitted: the GP learns the noise level from the scatter it sees. "
    "A number fixes it, in units of the standardised observations' variance.",
)
fitted = c3.checkbox("Fit the kernel length scale", value=pg.length_scale is None, key="learn_fit")
length_scale = None
if not fitted:
    length_scale = c3.slider(
        "Length scale (share of the x range)",
        0.02,
        1.0,
        pg.length_scale or 0.1,
        0.01,
        key="learn_ls",
    )
init_points = c4.number_input("Random points first", 0, 10, pg.init_points, key="learn_init")
show_truth = c4.checkbox("Show the hidden function", value=False, key="learn_truth")

if function != pg.function:
    pg.reset()
pg.function, pg.acquisition, pg.kappa, pg.xi = function, acquisition, kappa, xi
pg.noise, pg.length_scale, pg.init_points = noise, length_scale, int(init_points)

b1, b2, b3, b4 = st.columns([1, 1, 1, 3])
if b1.button("Next step", type="primary", key="learn_next"):
    pg.step()
steps = b3.number_input("N", 1, 50, 5, key="learn_n", label_visibility="collapsed")
if b2.button("Run N steps", key="learn_run"):
    pg.step(int(steps))
if b4.button("Reset", key="learn_reset"):
    pg.reset()

view = pg.view()
st.plotly_chart(charts.playground_figure(view, show_truth), key="learn-gp", width="stretch")
st.caption(
    "The blue line is the GP's best guess of the hidden function; the shaded band is where "
    "it believes the function lies with 95% probability; thin lines are functions the GP "
    "thinks plausible. The band is narrow where points have landed and wide where nothing "
    "is known. The green dotted line is where the next observation goes."
)
st.plotly_chart(charts.acquisition_1d_figure(view), key="learn-acq", width="stretch")
st.caption(
    "The acquisition function scores every x by how promising it is: high where the mean "
    "is high (exploit) or the band is wide (explore). Its maximum is the next point."
)
st.metric("Observations", len(view.observed_x))

st.subheader("2. Bayesian vs random vs grid search, measured")
st.caption(
    "Each method gets the same budget on functions whose optimum is known, over many seeds. "
    "Regret is how far the best point found so far is from the optimum: lower is better."
)
k1, k2, k3 = st.columns(3)
bench = k1.selectbox("Function", list(BENCHMARKS), key="learn_bench")
k1.caption(BENCHMARKS[bench].description)
budget = k2.select_slider("Trials per run", [10, 15, 25, 50], value=25, key="learn_budget")
seeds = k3.select_slider("Seeds", [3, 5, 10, 20], value=10, key="learn_seeds")


@st.cache_resource(max_entries=32, show_spinner=False)
def comparison_job(name: str, budget: int, seeds: int) -> ComparisonJob:
    """One background run per setting, kept for the life of the server."""
    return ComparisonJob(name, budget, seeds)


if st.button("Run the comparison", key="learn_compare") or st.session_state.get(
    "learn_started"
) == (bench, budget, seeds):
    st.session_state["learn_started"] = (bench, budget, seeds)
    job = comparison_job(bench, budget, seeds)

    @st.fragment(run_every=1.0)
    def show_comparison() -> None:
        if not job.done:
            st.progress(job.progress, text=f"running {bench}: {job.progress:.0%}")
            return
        if job.error:
            st.error(f"The comparison failed: {job.error}")
            return
        result = job.result
        st.plotly_chart(charts.regret_figure(result), key="learn-regret", width="stretch")
        rows = []
        for method in result.regret:
            final = float(result.quantiles(method)[1][-1])
            rows.append(
                {
                    "method": method,
                    f"median regret after {result.budget}": final,
                    f"trials to regret <= {result.target:g} (median)": result.trials_to_target(
                        method
                    ),
                }
            )
        frame = pd.DataFrame(rows)
        random_regret = float(result.quantiles("random")[1][-1])
        bayes_regret = float(result.quantiles("bayes")[1][-1])
        st.dataframe(frame, hide_index=True, width="stretch")
        if bayes_regret > 0 and random_regret > bayes_regret:
            st.success(
                f"Bayesian optimization ends {random_regret / bayes_regret:.1f}x closer to the "
                f"optimum than random search on {bench}."
            )
        elif bayes_regret >= random_regret:
            st.warning(
                f"On {bench} at this budget, random search did as well as Bayesian optimization "
                "or better: the GP's assumptions do not always pay off."
            )
        else:
            st.success("Bayesian optimization reached the optimum.")

    show_comparison()
